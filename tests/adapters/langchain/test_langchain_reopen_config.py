"""The LangChain store reopens a collection as it was created: metric and index mode come from the vault."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from langchain_vecvault import VecVaultVectorStore
from vecvault import ConfigurationError, Vault

from .conftest import StoreFactory

# Vectors shorter than 1, so the dot product, the cosine and the L2 distance all rank and score differently.
TABLE = {
    "near": [0.5, 0.1, 0.0, 0.0],
    "mid": [0.3, 0.4, 0.0, 0.0],
    "far": [0.0, 0.2, 0.5, 0.0],
    "query": [0.8, 0.2, 0.1, 0.0],
}
DOCS = ["near", "mid", "far"]


class TableEmbeddings(Embeddings):
    """Looks texts up in a fixed table: a real Embeddings with known geometry."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [TABLE[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return TABLE[text]


def _expected_relevance(metric: str, doc: str) -> float:
    """LangChain's relevance convention, computed here from the table (dot: q·x; euclidean: 1 - L2 / sqrt 2)."""
    q, x = np.asarray(TABLE["query"]), np.asarray(TABLE[doc])
    if metric == "dot":
        value = float(q @ x)
    elif metric == "euclidean":
        value = 1.0 - float(np.linalg.norm(q - x)) / math.sqrt(2.0)
    else:
        value = float(q @ x / (np.linalg.norm(q) * np.linalg.norm(x)))
    return min(1.0, max(0.0, value))


def _scores(store: VecVaultVectorStore) -> tuple[list[tuple[str | None, float]], list[tuple[str | None, float]]]:
    distances = [(d.id, s) for d, s in store.similarity_search_with_score("query", k=len(DOCS))]
    relevances = [(d.id, s) for d, s in store.similarity_search_with_relevance_scores("query", k=len(DOCS))]
    return distances, relevances


@pytest.mark.parametrize("metric", ["dot", "euclidean"])
def test_a_reopen_without_metric_takes_the_stored_metric(make_store: StoreFactory, metric: str) -> None:
    created = make_store(embedding=TableEmbeddings(), collection_name="c", metric=metric)
    created.add_texts(DOCS, ids=DOCS)
    created.close()

    reopened = make_store(embedding=TableEmbeddings(), collection_name="c")  # used to raise: not 'cosine'
    assert reopened.metric == metric
    assert reopened.collection.metric == metric
    assert f"metric={metric!r}" in repr(reopened)
    assert [d.id for d in reopened.similarity_search("query", k=len(DOCS))] == ["near", "mid", "far"]
    distances, relevances = _scores(reopened)
    fn = reopened._select_relevance_score_fn()
    assert [r for _, r in relevances] == pytest.approx([fn(d) for _, d in distances])
    for doc, relevance in relevances:
        assert doc is not None
        assert relevance == pytest.approx(_expected_relevance(metric, doc), abs=1e-6)
        assert relevance != pytest.approx(_expected_relevance("cosine", doc), abs=1e-3)
    reopened.close()

    explicit = make_store(embedding=TableEmbeddings(), collection_name="c", metric=metric)
    assert explicit.metric == metric
    explicit_distances, explicit_relevances = _scores(explicit)
    assert [i for i, _ in explicit_distances] == [i for i, _ in distances]
    assert [s for _, s in explicit_distances] == pytest.approx([s for _, s in distances])
    assert [s for _, s in explicit_relevances] == pytest.approx([s for _, s in relevances])


@pytest.mark.parametrize("metric", ["dot", "euclidean"])
def test_from_texts_without_metric_adds_to_the_stored_collection(tmp_path: Path, lc_key: bytes, metric: str) -> None:
    path = tmp_path / "f.db"
    VecVaultVectorStore.from_texts(
        ["near"], TableEmbeddings(), ids=["near"], path=path, key=lc_key, collection_name="c", metric=metric
    ).close()
    store = VecVaultVectorStore.from_texts(
        ["mid", "far"], TableEmbeddings(), ids=["mid", "far"], path=path, key=lc_key, collection_name="c"
    )
    with store:
        assert store.metric == metric
        assert store.collection.count() == 3
        assert [d.id for d in store.similarity_search("query", k=3)] == ["near", "mid", "far"]


def test_an_explicit_conflicting_metric_raises(make_store: StoreFactory, tmp_path: Path, lc_key: bytes) -> None:
    make_store(embedding=TableEmbeddings(), collection_name="c", metric="dot").add_texts(DOCS, ids=DOCS)
    make_store().close()  # the fixture's file is free again
    for wrong in ("cosine", "euclidean", "l2"):
        with pytest.raises(ConfigurationError, match="'dot' metric"):
            make_store(embedding=TableEmbeddings(), collection_name="c", metric=wrong)
    with pytest.raises(ConfigurationError, match="vectors"):
        make_store(embedding=TableEmbeddings(), collection_name="c", vectors="plain")
    with Vault.open(tmp_path / "langchain.db", key=lc_key) as vault:  # the failed stores closed their vaults
        with pytest.raises(ConfigurationError, match="'dot' metric"):
            VecVaultVectorStore(TableEmbeddings(), vault=vault, collection_name="c", metric="cosine")
        assert VecVaultVectorStore(TableEmbeddings(), vault=vault, collection_name="c").metric == "dot"


def test_delete_collection_keeps_the_stored_metric(make_store: StoreFactory) -> None:
    make_store(embedding=TableEmbeddings(), collection_name="c", metric="dot").add_texts(DOCS, ids=DOCS)
    store = make_store(embedding=TableEmbeddings(), collection_name="c")
    store.delete_collection()
    assert store.metric == "dot"
    store.add_texts(DOCS, ids=DOCS)
    assert store.collection.metric == "dot"
    assert store.collection.count() == len(DOCS)


def test_a_new_collection_without_metric_is_cosine(make_store: StoreFactory) -> None:
    store = make_store(embedding=TableEmbeddings(), collection_name="fresh")
    assert store.metric == "cosine"
    store.add_texts(DOCS, ids=DOCS)
    assert store.collection.metric == "cosine"
    relevances = store.similarity_search_with_relevance_scores("query", k=1)
    assert relevances[0][1] == pytest.approx(_expected_relevance("cosine", "near"), abs=1e-6)


def test_the_index_mode_is_stored_and_an_explicit_one_switches_this_process_only(
    make_store: StoreFactory, fake_embeddings: Embeddings
) -> None:
    pytest.importorskip("hnswlib")
    texts = [f"text {i}" for i in range(300)]
    created = make_store(collection_name="h", index="hnsw")
    created.add_texts(texts, ids=texts)
    assert created.collection._graphs.mode == "hnsw"
    created.close()

    query = fake_embeddings.embed_query("text 7")  # equal to a stored vector
    reopened = make_store(collection_name="h")
    assert reopened.collection._graphs.mode == "hnsw"  # as created: no index= needed
    hnsw_ids = [d.id for d in reopened.similarity_search_by_vector(query, k=5)]
    assert reopened.collection._graphs.graph is not None  # searched through the graph
    reopened.close()

    exact = make_store(collection_name="h", index="exact")
    assert exact.collection._graphs.mode == "exact"
    exact_ids = [d.id for d in exact.similarity_search_by_vector(query, k=5)]
    assert exact.collection._graphs.graph is None
    assert exact_ids[0] == "text 7"
    assert hnsw_ids == exact_ids
    exact.close()

    again = make_store(collection_name="h")
    assert again.collection._graphs.mode == "hnsw"  # the switch was that process's only
    assert [d.id for d in again.similarity_search_by_vector(query, k=5)] == exact_ids


def test_an_unknown_index_mode_raises(make_store: StoreFactory) -> None:
    with pytest.raises(ConfigurationError, match="index"):
        make_store(collection_name="c", index="ivf")


def test_a_collection_created_by_the_core_opens_without_metric(
    tmp_path: Path, lc_key: bytes, make_store: StoreFactory
) -> None:
    path = tmp_path / "langchain.db"
    with Vault.open(path, key=lc_key) as vault:
        vault.collection("c", dim=4, metric="dot").add(DOCS, [TABLE[t] for t in DOCS], ids=DOCS)
        borrowed = VecVaultVectorStore(TableEmbeddings(), vault=vault, collection_name="c")
        assert borrowed.metric == "dot"
        assert [d.id for d in borrowed.similarity_search("query", k=3)] == ["near", "mid", "far"]
    store = make_store(embedding=TableEmbeddings(), collection_name="c")
    assert store.metric == "dot"
    _, relevances = _scores(store)
    assert [i for i, _ in relevances] == ["near", "mid", "far"]
    for doc, relevance in relevances:
        assert doc is not None
        assert relevance == pytest.approx(_expected_relevance("dot", doc), abs=1e-6)
