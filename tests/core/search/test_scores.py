"""Scores of search hits: exact in float64 from the stored float32 vectors, inside each metric's range.

The ranking runs in float32; the k hits returned are scored again in float64 (issue "complete against the
peers", item 1). The reference figures are PGVector's, from langchain-postgres' test suite: its
``vector`` type stores float32 and computes the cosine distance in double precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from vecvault import Collection, Vault
from vecvault.index import exact_scores, relevance, similarity

ADA = 1536


def _ada_docs(n: int = 3) -> list[list[float]]:
    """langchain-postgres' FakeEmbeddingsWithAdaDimension: 1535 ones, then the text's index."""
    return [[1.0] * (ADA - 1) + [float(i)] for i in range(n)]


ADA_QUERY = [1.0] * (ADA - 1) + [0.0]


@pytest.fixture(params=["exact", "hnsw", "plain"])
def mode(request: pytest.FixtureRequest) -> str:
    if request.param == "hnsw":
        pytest.importorskip("hnswlib")
    return str(request.param)


def _collection(vault: Vault, mode: str, metric: str = "cosine", name: str = "c") -> Collection:
    if mode == "plain":
        return vault.collection(name, metric=metric, vectors="plain", allow_plaintext_vectors=True)
    return vault.collection(name, metric=metric, index=mode)


def test_identical_vector_has_distance_zero_at_1536_dimensions(vault: Vault, mode: str) -> None:
    col = _collection(vault, mode)
    col.add(texts=["foo", "bar", "baz"], vectors=_ada_docs(), metadatas=[{"page": str(i)} for i in range(3)])
    hits = col.search(ADA_QUERY, k=3)
    assert [h.text for h in hits] == ["foo", "bar", "baz"]
    assert hits[0].distance == 0.0
    assert hits[0].score == 1.0
    # PGVector's figures, bit for bit (tests/unit_tests/v1/test_vectorstore.py in langchain-postgres).
    assert tuple(h.relevance for h in hits) == (1.0, 0.9996744261675065, 0.9986996093328621)
    assert col.search(ADA_QUERY, k=1, filter={"page": "2"})[0].distance == 0.0013003906671379406
    assert col.search_mmr(ADA_QUERY, k=1, fetch_k=3)[0].distance == 0.0


@pytest.mark.parametrize("dim", [2, 8, 384])
@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_every_stored_vector_finds_itself_at_distance_zero(vault: Vault, dim: int, metric: str) -> None:
    rng = np.random.default_rng(dim)
    vectors = rng.standard_normal((40, dim)).astype(np.float32)
    if metric == "dot":
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    col = vault.collection(f"c{dim}{metric}", metric=metric)
    ids = col.add(texts=[str(i) for i in range(40)], vectors=vectors)
    for i, vector in enumerate(vectors):
        hit = col.search(vector, k=1)[0]
        assert hit.id == ids[i]
        if metric == "dot":
            assert hit.score == pytest.approx(float(vector.astype(np.float64) @ vector.astype(np.float64)))
        else:
            assert hit.distance == 0.0
            assert hit.relevance == 1.0


def test_cosine_scores_stay_in_range_for_opposite_and_near_vectors(vault: Vault, mode: str) -> None:
    rng = np.random.default_rng(3)
    base = rng.standard_normal(16).astype(np.float32)
    vectors = np.stack([base, -base, base * 3.0, -base * 0.5, base + 1e-7, *rng.standard_normal((20, 16))]).astype(
        np.float32
    )
    col = _collection(vault, mode)
    col.add(texts=[str(i) for i in range(len(vectors))], vectors=vectors)
    for query in (base, -base, rng.standard_normal(16)):
        hits = col.search(query, k=len(vectors))
        assert all(0.0 <= h.distance <= 2.0 for h in hits)
        assert all(-1.0 <= h.score <= 1.0 for h in hits)
        assert all(0.0 <= h.relevance <= 1.0 for h in hits)
        distances = [h.distance for h in hits]
        assert distances == sorted(distances)  # re-ranked by the exact scores
    far = col.search(-base, k=len(vectors))
    assert far[-1].distance == 2.0 and far[-1].relevance == 0.0


def test_exact_scores() -> None:
    q = np.array([1.0, 0.0], dtype=np.float32)
    x = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    scores, dist = exact_scores("cosine", q, x)
    assert scores.dtype == np.float64
    assert scores.tolist() == [1.0, 0.0, -1.0, 0.0]
    assert dist.tolist() == [0.0, 1.0, 2.0, 1.0]
    scores, dist = exact_scores("dot", q, x)
    assert scores.tolist() == [1.0, 0.0, -3.0, 0.0] and dist.tolist() == [-1.0, -0.0, 3.0, -0.0]
    scores, dist = exact_scores("euclidean", q, x)
    assert dist.tolist() == pytest.approx([0.0, math.sqrt(5.0), 4.0, 1.0])
    assert scores.tolist() == pytest.approx([1.0, 1 / (1 + math.sqrt(5.0)), 0.2, 0.5])


# LangChain's own relevance functions (langchain_core.vectorstores.VectorStore), which langchain-chroma and
# PGVector use; vecvault clamps them into [0, 1].
def _lc_cosine(distance: float) -> float:
    return 1.0 - distance


def _lc_euclidean(distance: float) -> float:
    return 1.0 - distance / math.sqrt(2)


def _lc_inner_product(distance: float) -> float:
    return 1.0 - distance if distance > 0 else -1.0 * distance


@pytest.mark.parametrize(
    ("metric", "reference", "distances"),
    [
        ("cosine", _lc_cosine, [0.0, 0.2, 0.5, 1.0]),
        ("euclidean", _lc_euclidean, [0.0, 0.3, 1.0, math.sqrt(2)]),
        ("dot", _lc_inner_product, [-1.0, -0.8, -0.2, 0.0]),
    ],
)
def test_relevance_is_langchains_convention(
    metric: str, reference: Callable[[float], float], distances: list[float]
) -> None:
    for d in distances:
        assert relevance(metric, d) == pytest.approx(reference(d))
    # LangChain's own core test of these functions uses the same figures.
    assert relevance("cosine", 0.2) == pytest.approx(0.8)


def test_relevance_is_clamped_and_monotonic() -> None:
    assert relevance("cosine", 1.5) == 0.0  # LangChain: -0.5
    assert relevance("cosine", 2.0) == 0.0
    assert relevance("euclidean", 2.0) == 0.0  # LangChain: -0.41
    assert relevance("dot", -1.7) == 1.0  # a product above 1 (not unit vectors)
    # LangChain's inner-product function gives 0.7 to a product of -0.3; vecvault keeps the order.
    assert relevance("dot", 0.3) == 0.0 < relevance("dot", -0.5)
    assert _lc_inner_product(0.3) == pytest.approx(0.7)


def test_threshold_tuned_on_peers_admits_the_same_documents(vault: Vault) -> None:
    """A 0.8 threshold keeps cosine >= 0.8 here as on Chroma/PGVector (with (1 + cos) / 2 it kept cos >= 0.6)."""
    col = vault.collection("angles")
    angles = [0, 20, 40, 50, 70]
    col.add(
        texts=[str(a) for a in angles],
        vectors=[[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in angles],
    )
    kept = [h.text for h in col.search([1.0, 0.0], k=5) if h.relevance >= 0.8]
    assert kept == ["0", "20"]  # cos 40° = 0.766 < 0.8


def test_llama_index_similarity_is_the_cosine() -> None:
    assert similarity("cosine", 0.25) == 0.25
    assert similarity("cosine", -0.5) == 0.0
    assert similarity("dot", 1.5) == 1.0
    assert similarity("euclidean", 1 / 3) == pytest.approx(1 / 3)
