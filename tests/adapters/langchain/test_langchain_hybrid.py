"""LangChain retrieval modes: dense, text (BM25) and hybrid, through every query-text search, sync and async,
the retriever's search_kwargs, the constructor default, and bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from langchain_vecvault import VecVaultVectorStore
from vecvault import ConfigurationError
from vecvault.search.fusion import reciprocal_rank_fusion

pytest.importorskip("tantivy")

TEXTS = {
    "join": "Build a path with os.path.join(base, name) instead of adding strings.",
    "parse": "C extensions read their arguments with PyArg_ParseTuple and a format string.",
    "sort": "Sort a list in place with list.sort(), or get a new sorted list from sorted().",
    "dict": "Dictionaries map keys to values; iterate over items() to get both.",
    "error": "The installer stops with error code E1234 when the disk is full.",
}


class CountingEmbeddings(Embeddings):
    """Bag of letters, counting its query calls: text retrieval must not embed."""

    def __init__(self) -> None:
        self.queries = 0

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * 26
        for ch in text.lower():
            if "a" <= ch <= "z":
                vector[ord(ch) - 97] += 1.0
        return vector if any(vector) else [1.0] + [0.0] * 25

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return self._embed(text)


@pytest.fixture
def filled(make_store: Callable[..., VecVaultVectorStore]) -> Callable[..., VecVaultVectorStore]:
    def _make(**kwargs: Any) -> VecVaultVectorStore:
        kwargs.setdefault("embedding", CountingEmbeddings())
        store = make_store(**kwargs)
        store.add_documents(
            [Document(page_content=t, metadata={"key": key, "n": i}) for i, (key, t) in enumerate(TEXTS.items())],
            ids=list(TEXTS),
        )
        return store

    return _make


def _keys(docs: list[Any]) -> list[str]:
    return [(d[0] if isinstance(d, tuple) else d).metadata["key"] for d in docs]


METHODS = [
    "similarity_search",
    "similarity_search_with_score",
    "similarity_search_with_relevance_scores",
]


@pytest.mark.parametrize("use_async", [False, True])
@pytest.mark.parametrize("method", METHODS)
async def test_text_mode_in_every_method(filled: Any, method: str, use_async: bool) -> None:
    store = filled()
    embedder = store.embeddings
    call = getattr(store, ("a" + method) if use_async else method)
    result = call("PyArg_ParseTuple", k=3, retrieval_mode="text")
    result = await result if use_async else result
    assert _keys(result) == ["parse"]
    assert embedder.queries == 0  # BM25 needs no embedding
    if method == "similarity_search_with_score":
        assert result[0][1] == 0.0  # 1 - relevance: the best text hit is at distance 0
    if method == "similarity_search_with_relevance_scores":
        assert result[0][1] == 1.0


@pytest.mark.parametrize("use_async", [False, True])
@pytest.mark.parametrize("method", METHODS)
async def test_hybrid_mode_in_every_method(filled: Any, method: str, use_async: bool) -> None:
    store = filled()
    call = getattr(store, ("a" + method) if use_async else method)
    result = call("sort a list E1234", k=3, retrieval_mode="hybrid", filter={"n": {"$gte": 1}})
    result = await result if use_async else result
    vector = store.embeddings.embed_query("sort a list E1234")
    dense = store.collection.search(vector, k=10, filter={"n": {"$gte": 1}})
    text = store.collection.search_text("sort a list E1234", k=10, filter={"n": {"$gte": 1}})
    expected = reciprocal_rank_fusion([[(h.id, h.score) for h in dense], [(h.id, h.score) for h in text]])[:3]
    assert _keys(result) == [i for i, _ in expected]
    if method != "similarity_search":
        assert all(0.0 <= score <= 1.0 for _, score in result)


def test_hybrid_options_reach_the_core(filled: Any) -> None:
    store = filled()
    relative = store.similarity_search_with_relevance_scores(
        "os.path.join", k=2, retrieval_mode="hybrid", fusion="relative", alpha=0.0, text_k=5
    )
    assert _keys(relative)[0] == "join"
    assert relative[0][1] == pytest.approx(1.0)
    dense_only = store.similarity_search("os.path.join", k=5, retrieval_mode="hybrid", fusion="relative", alpha=1.0)
    assert _keys(dense_only) == _keys(store.similarity_search("os.path.join", k=5))


def test_the_constructor_sets_the_default_mode(filled: Any) -> None:
    store = filled(retrieval_mode="text")
    assert store.retrieval_mode == "text"
    assert _keys(store.similarity_search("E1234", k=2)) == ["error"]
    assert store.embeddings.queries == 0
    store.similarity_search("E1234", k=2, retrieval_mode="dense")
    assert store.embeddings.queries == 1
    # by vector is dense by definition, whatever the default
    assert len(store.similarity_search_by_vector(store.embeddings.embed_query("E1234"), k=2)) == 2
    with pytest.raises(ConfigurationError, match="Invalid retrieval_mode"):
        filled(retrieval_mode="sparse")


@pytest.mark.parametrize("use_async", [False, True])
async def test_retrievers_take_the_mode_in_search_kwargs(filled: Any, use_async: bool) -> None:
    store = filled()
    hybrid = store.as_retriever(search_kwargs={"retrieval_mode": "hybrid", "k": 5})
    text = store.as_retriever(search_kwargs={"retrieval_mode": "text", "k": 2, "filter": {"key": "parse"}})
    threshold = store.as_retriever(
        search_type="similarity_score_threshold",
        search_kwargs={"retrieval_mode": "text", "k": 5, "score_threshold": 0.99},
    )
    if use_async:
        docs, keyword, best = (
            await hybrid.ainvoke("error E1234"),
            await text.ainvoke("PyArg_ParseTuple"),
            await threshold.ainvoke("list"),
        )
    else:
        docs, keyword, best = hybrid.invoke("error E1234"), text.invoke("PyArg_ParseTuple"), threshold.invoke("list")
    assert len(docs) == 5
    assert _keys(docs)[0] == "error"
    assert _keys(keyword) == ["parse"]
    assert _keys(best) == ["sort"]


def test_bad_modes_and_options_raise(filled: Any) -> None:
    store = filled()
    with pytest.raises(ConfigurationError, match="Invalid retrieval_mode"):
        store.similarity_search("x", retrieval_mode="keyword")
    with pytest.raises(ConfigurationError, match="retrieval_mode='hybrid'"):
        store.similarity_search("x", retrieval_mode="text", alpha=0.5)
    with pytest.raises(ConfigurationError, match="retrieval_mode='hybrid'"):
        store.similarity_search("x", fusion="rrf")  # the default mode is dense
    with pytest.raises(ConfigurationError, match="alpha"):
        store.similarity_search("x", retrieval_mode="hybrid", fusion="relative", alpha=2)
    with pytest.raises(ConfigurationError, match="Invalid fusion"):
        store.similarity_search("x", retrieval_mode="hybrid", fusion="sum")
    with pytest.raises(ConfigurationError, match="empty"):
        store.similarity_search("   ", retrieval_mode="text")
    with pytest.raises(ConfigurationError, match="empty"):
        store.similarity_search("", retrieval_mode="hybrid")
    with pytest.raises(ConfigurationError, match="unsupported keyword"):
        store.similarity_search("x", retrieval_mode="text", fetch_k=3)
    assert store.similarity_search("the of", retrieval_mode="text") == []  # only stop words: nothing to match
    assert store.embeddings.queries == 0
