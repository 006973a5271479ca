"""Scores through the adapter: distances ascend, relevance in [0, 1] descends, for every metric."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from langchain_vecvault import VecVaultVectorStore

from .conftest import StoreFactory

# Documents at growing angles from the query direction (all unit length), then two far-away long vectors.
ANGLES = {"a0": 0.0, "a20": 20.0, "a60": 60.0, "a100": 100.0, "a180": 180.0}


def _unit(degrees: float) -> list[float]:
    rad = math.radians(degrees)
    return [math.cos(rad), math.sin(rad), 0.0, 0.0]


class TableEmbeddings(Embeddings):
    """Looks texts up in a fixed table: a real Embeddings with known geometry."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table[text]


TABLE = {name: _unit(deg) for name, deg in ANGLES.items()} | {"query": _unit(0.0)}
EXPECTED_ORDER = ["a0", "a20", "a60", "a100", "a180"]


@pytest.fixture(params=["cosine", "dot", "euclidean"])
def metric_store(request: pytest.FixtureRequest, make_store: StoreFactory, tmp_path: Path) -> VecVaultVectorStore:
    store = make_store(embedding=TableEmbeddings(TABLE), path=tmp_path / f"{request.param}.db", metric=request.param)
    store.add_texts(list(ANGLES), ids=list(ANGLES))
    return store


def test_relevance_in_unit_interval_and_ordered(metric_store: VecVaultVectorStore) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # LangChain warns when a relevance leaves [0, 1]
        pairs = metric_store.similarity_search_with_relevance_scores("query", k=len(ANGLES))
    assert [doc.id for doc, _ in pairs] == EXPECTED_ORDER
    scores = [score for _, score in pairs]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    assert scores[-1] < scores[0]
    if metric_store.metric in ("cosine", "dot"):
        assert scores[-1] == pytest.approx(0.0, abs=1e-6)  # opposite direction


async def test_async_relevance_matches_sync(metric_store: VecVaultVectorStore) -> None:
    sync = metric_store.similarity_search_with_relevance_scores("query", k=3)
    async_ = await metric_store.asimilarity_search_with_relevance_scores("query", k=3)
    assert [(d.id, pytest.approx(s)) for d, s in sync] == [(d.id, s) for d, s in async_]


def test_score_is_a_distance_and_maps_to_relevance(metric_store: VecVaultVectorStore) -> None:
    scored = metric_store.similarity_search_with_score("query", k=len(ANGLES))
    distances = [d for _, d in scored]
    assert [doc.id for doc, _ in scored] == EXPECTED_ORDER
    assert distances == sorted(distances)
    q = np.array(TABLE["query"])
    for doc, dist in scored:
        x = np.array(TABLE[doc.page_content])
        expected = {
            "cosine": 1.0 - float(q @ x),
            "dot": -float(q @ x),
            "euclidean": float(np.linalg.norm(q - x)),
        }[metric_store.metric]
        assert dist == pytest.approx(expected, abs=1e-5)
    # LangChain's own hook gives the same relevance as the store.
    fn = metric_store._select_relevance_score_fn()
    relevances = {d.id: s for d, s in metric_store.similarity_search_with_relevance_scores("query", k=5)}
    for doc, dist in scored:
        assert fn(dist) == pytest.approx(relevances[doc.id], abs=1e-6)


def test_score_by_vector_matches_query(metric_store: VecVaultVectorStore) -> None:
    by_query = metric_store.similarity_search_with_score("query", k=3)
    by_vector = metric_store.similarity_search_with_score_by_vector(TABLE["query"], k=3)
    assert [(d.id, pytest.approx(s)) for d, s in by_query] == [(d.id, s) for d, s in by_vector]
    assert [d.id for d in metric_store.similarity_search_by_vector(TABLE["a100"], k=1)] == ["a100"]


def test_score_threshold_retriever(metric_store: VecVaultVectorStore) -> None:
    fn = metric_store._select_relevance_score_fn()
    # A threshold halfway between the 2nd and 3rd relevance keeps exactly two documents.
    second = fn(metric_store.similarity_search_with_score("query", k=2)[1][1])
    third = fn(metric_store.similarity_search_with_score("query", k=3)[2][1])
    retriever = metric_store.as_retriever(
        search_type="similarity_score_threshold",
        search_kwargs={"score_threshold": (second + third) / 2, "k": 5},
    )
    assert [d.id for d in retriever.invoke("query")] == ["a0", "a20"]


def test_relevance_override(make_store: StoreFactory, tmp_path: Path) -> None:
    store = make_store(
        embedding=TableEmbeddings(TABLE), path=tmp_path / "o.db", relevance_score_fn=lambda d: 1.0 - d / 2.0
    )
    store.add_texts(["a0", "a180"], ids=["a0", "a180"])
    pairs = store.similarity_search_with_relevance_scores("query", k=2)
    assert [(d.id, round(s, 6)) for d, s in pairs] == [("a0", 1.0), ("a180", 0.0)]


def test_mmr_prefers_diversity(make_store: StoreFactory, tmp_path: Path) -> None:
    table = {"q": _unit(0.0), "near1": _unit(5.0), "near2": _unit(6.0), "other": _unit(50.0)}
    store = make_store(embedding=TableEmbeddings(table), path=tmp_path / "mmr.db")
    store.add_texts(["near1", "near2", "other"], ids=["near1", "near2", "other"])
    assert [d.id for d in store.similarity_search("q", k=2)] == ["near1", "near2"]
    assert [d.id for d in store.max_marginal_relevance_search("q", k=2, fetch_k=3, lambda_mult=0.3)] == [
        "near1",
        "other",
    ]
    by_vec = store.max_marginal_relevance_search_by_vector(table["q"], k=2, fetch_k=3, lambda_mult=0.3)
    assert [d.id for d in by_vec] == ["near1", "other"]
    assert [d.id for d in store.max_marginal_relevance_search("q", k=2, fetch_k=3, lambda_mult=1.0)] == [
        "near1",
        "near2",
    ]
    retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3, "lambda_mult": 0.3})
    assert [d.id for d in retriever.invoke("q")] == ["near1", "other"]


async def test_async_mmr(make_store: StoreFactory, tmp_path: Path) -> None:
    table = {"q": _unit(0.0), "near1": _unit(5.0), "near2": _unit(6.0), "other": _unit(50.0)}
    store = make_store(embedding=TableEmbeddings(table), path=tmp_path / "ammr.db")
    await store.aadd_texts(["near1", "near2", "other"], ids=["near1", "near2", "other"])
    docs = await store.amax_marginal_relevance_search("q", k=2, fetch_k=3, lambda_mult=0.3)
    assert [d.id for d in docs] == ["near1", "other"]
    docs = await store.amax_marginal_relevance_search_by_vector(table["q"], k=2, fetch_k=3, lambda_mult=0.3)
    assert [d.id for d in docs] == ["near1", "other"]
    retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3, "lambda_mult": 0.3})
    assert [d.id for d in await retriever.ainvoke("q")] == ["near1", "other"]
    assert [d.id for d in await store.asearch("q", search_type="mmr", k=2, fetch_k=3, lambda_mult=0.3)] == [
        "near1",
        "other",
    ]


def test_relevance_override_out_of_range_raises_without_text(make_store: StoreFactory, tmp_path: Path) -> None:
    from vecvault import ConfigurationError

    store = make_store(embedding=TableEmbeddings(TABLE), path=tmp_path / "bad.db", relevance_score_fn=lambda d: -d - 1)
    store.add_texts(["a0", "a180"], ids=["a0", "a180"])
    with pytest.raises(ConfigurationError, match=r"\[0, 1\]") as info:
        store.similarity_search_with_relevance_scores("query", k=2)
    assert "a180" not in str(info.value)


async def test_async_by_vector(metric_store: VecVaultVectorStore) -> None:
    docs = await metric_store.asimilarity_search_by_vector(TABLE["a100"], k=2, filter={"$not": {"x": 1}})
    assert [d.id for d in docs] == ["a100", "a60"]
    scored = await metric_store.asimilarity_search_with_score_by_vector(TABLE["query"], k=2)
    assert [(d.id, pytest.approx(s)) for d, s in metric_store.similarity_search_with_score("query", k=2)] == [
        (d.id, s) for d, s in scored
    ]
