"""The shared filter table (tests/filter_cases.py) through the LangChain adapter, sync and async.

Every case runs through search, MMR, scored search and delete-by-filter, so each adapter path hands the
same ``$`` dict to the core and gets the same ids back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from tests.filter_cases import ALL_IDS, DOCUMENTS, FILTER_CASES, FilterCase

from langchain_vecvault import VecVaultVectorStore
from vecvault import UnsupportedFilterError

K = len(DOCUMENTS)


def by_name(case: FilterCase) -> str:
    return case.name


def _fill(store: VecVaultVectorStore) -> None:
    store.add_texts(
        [d.text for d in DOCUMENTS], metadatas=[d.metadata for d in DOCUMENTS], ids=[d.id for d in DOCUMENTS]
    )


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VecVaultVectorStore]:
    """One store holding the table's documents, shared read-only by the search cases."""
    path = tmp_path_factory.mktemp("filters") / "filters.db"
    store = VecVaultVectorStore(embedding=DeterministicFakeEmbedding(size=8), path=path, key=os.urandom(32))
    try:
        _fill(store)
        yield store
    finally:
        store.close()


@pytest.mark.parametrize("case", FILTER_CASES, ids=by_name)
def test_similarity_search(filled_store: VecVaultVectorStore, case: FilterCase) -> None:
    docs = filled_store.similarity_search("anything", k=K, filter=case.mongo)
    assert {doc.id for doc in docs} == case.expected_ids
    assert len(docs) == len(case.expected_ids)


@pytest.mark.parametrize("case", FILTER_CASES, ids=by_name)
async def test_asimilarity_search(filled_store: VecVaultVectorStore, case: FilterCase) -> None:
    docs = await filled_store.asimilarity_search("anything", k=K, filter=case.mongo)
    assert {doc.id for doc in docs} == case.expected_ids


@pytest.mark.parametrize("case", FILTER_CASES, ids=by_name)
def test_scored_and_mmr_search(filled_store: VecVaultVectorStore, case: FilterCase) -> None:
    scored = filled_store.similarity_search_with_relevance_scores("anything", k=K, filter=case.mongo)
    assert {doc.id for doc, _ in scored} == case.expected_ids
    mmr = filled_store.max_marginal_relevance_search("anything", k=K, fetch_k=K, filter=case.mongo)
    assert {doc.id for doc in mmr} == case.expected_ids


@pytest.mark.parametrize("case", FILTER_CASES, ids=by_name)
async def test_async_scored_and_mmr_search(filled_store: VecVaultVectorStore, case: FilterCase) -> None:
    scored = await filled_store.asimilarity_search_with_score("anything", k=K, filter=case.mongo)
    assert {doc.id for doc, _ in scored} == case.expected_ids
    mmr = await filled_store.amax_marginal_relevance_search("anything", k=K, fetch_k=K, filter=case.mongo)
    assert {doc.id for doc in mmr} == case.expected_ids


@pytest.mark.parametrize("case", [c for c in FILTER_CASES if c.mongo], ids=by_name)
def test_delete_by_filter(tmp_path: Path, case: FilterCase) -> None:
    store = VecVaultVectorStore(
        embedding=DeterministicFakeEmbedding(size=8), path=tmp_path / "d.db", key=os.urandom(32), file_encryption=False
    )
    try:
        _fill(store)
        assert store.delete(filter=case.mongo) is True
        assert set(store.collection.ids()) == ALL_IDS - case.expected_ids
    finally:
        store.close()


@pytest.mark.parametrize("case", [c for c in FILTER_CASES if c.mongo], ids=by_name)
async def test_adelete_by_filter(tmp_path: Path, case: FilterCase) -> None:
    store = VecVaultVectorStore(
        embedding=DeterministicFakeEmbedding(size=8), path=tmp_path / "d.db", key=os.urandom(32), file_encryption=False
    )
    try:
        await store.aadd_texts(
            [d.text for d in DOCUMENTS], metadatas=[d.metadata for d in DOCUMENTS], ids=[d.id for d in DOCUMENTS]
        )
        assert await store.adelete(filter=case.mongo) is True
        remaining = await store.aget_by_ids(sorted(ALL_IDS))
        assert {doc.id for doc in remaining} == ALL_IDS - case.expected_ids
    finally:
        store.close()


class CountingEmbeddings(Embeddings):
    """Counts embed calls, so a test can show that a bad filter fails before the embedder is paid."""

    def __init__(self) -> None:
        self.calls = 0
        self.inner = DeterministicFakeEmbedding(size=4)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self.inner.embed_query(text)


def _deep(depth: int, wrap: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    flt: dict[str, Any] = {"genre": "sf"}
    for _ in range(depth):
        flt = wrap(flt)
    return flt


@pytest.mark.parametrize(
    "bad",
    [
        {"genre": {"$regex": "s.*"}},
        {"$nor": [{"a": 1}]},
        {"year": {"$gt": [1, 2]}},
        ["genre", "sf"],
        _deep(400, lambda f: {"$not": f}),
        _deep(400, lambda f: {"$and": [f, {"year": 1}]}),
        _deep(5000, lambda f: {"$or": [f]}),
        {"genre": {"$in": [_deep(5000, lambda f: {"k": f})]}},
    ],
    ids=["unknown_op", "unknown_logical", "bad_value", "not_a_dict", "not_400", "and_400", "or_5000", "value_5000"],
)
async def test_bad_filter_raises_before_embedding(tmp_path: Path, bad: object) -> None:
    emb = CountingEmbeddings()
    with VecVaultVectorStore(embedding=emb, path=tmp_path / "b.db", key=os.urandom(32)) as store:
        store.add_texts(["x"])
        calls = emb.calls
        with pytest.raises(UnsupportedFilterError):
            store.similarity_search("q", filter=bad)  # type: ignore[arg-type]
        with pytest.raises(UnsupportedFilterError):
            await store.amax_marginal_relevance_search("q", filter=bad)  # type: ignore[arg-type]
        with pytest.raises(UnsupportedFilterError):
            store.delete(filter=bad)
        assert emb.calls == calls
        assert store.collection.count() == 1
