"""What Chroma, PGVector and FAISS users expect from the LangChain store, sync and async.

Precomputed embeddings, MMR with scores, updates, collection lifecycle, Chroma's ``get``, PGVector's options,
duck-typed embedders and the "did you mean $and" filter errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, Mock

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from langchain_vecvault import VecVaultVectorStore
from vecvault import ConfigurationError, UnsupportedFilterError

from .conftest import StoreFactory

PETS = [
    Document(page_content="cats purr", metadata={"topic": "pets", "n": 1, "specs": {"legs": 4}}, id="c"),
    Document(page_content="dogs bark", metadata={"topic": "pets", "n": 2, "specs": {"legs": 4}}, id="d"),
    Document(page_content="stocks fall", metadata={"topic": "money", "n": 3, "note": None}, id="s"),
]


class DuckEmbeddings:
    """Not an ``Embeddings`` subclass, and no async methods: what LangChain's own stores accept."""

    def __init__(self) -> None:
        self.inner = DeterministicFakeEmbedding(size=8)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


# -- item 6: duck-typed embedders ---------------------------------------------------------------------------


async def test_mock_wrapping_embeddings_is_accepted(make_store: StoreFactory) -> None:
    real = DeterministicFakeEmbedding(size=8)
    mock = Mock(wraps=real)
    store = make_store(embedding=mock)
    store.add_texts(["foo"], ids=["1"])
    assert store.similarity_search("foo", k=1)[0].id == "1"
    assert mock.embed_documents.call_count == 1 and mock.embed_query.call_count == 1
    await store.aadd_texts(["bar"], ids=["2"])
    assert [d.id for d in await store.asimilarity_search("bar", k=1)] == ["2"]


async def test_async_mocks_are_awaited(make_store: StoreFactory) -> None:
    real = DeterministicFakeEmbedding(size=8)
    mock = Mock(
        wraps=real,
        aembed_documents=AsyncMock(side_effect=real.aembed_documents),
        aembed_query=AsyncMock(side_effect=real.aembed_query),
    )
    store = make_store(embedding=mock)
    await store.aadd_texts(["foo"])
    await store.asimilarity_search("foo", k=1)
    assert mock.aembed_documents.await_count == 1
    assert mock.aembed_query.await_count == 1


async def test_duck_typed_embedder_without_async_methods(make_store: StoreFactory) -> None:
    store = make_store(embedding=DuckEmbeddings())
    await store.aadd_documents(PETS)
    assert (await store.asimilarity_search("cats purr", k=1))[0].id == "c"
    assert (await store.amax_marginal_relevance_search("cats purr", k=1))[0].id == "c"
    assert store.similarity_search("dogs bark", k=1)[0].id == "d"


@pytest.mark.parametrize("bad", [None, "text-embedding-3-small", object(), Mock(spec=[])])
def test_objects_that_cannot_embed_are_refused(make_store: StoreFactory, bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="embed_documents and embed_query"):
        make_store(embedding=bad)


# -- precomputed embeddings ---------------------------------------------------------------------------------


def test_add_embeddings_never_calls_the_embedder(make_store: StoreFactory) -> None:
    embedder = Mock(wraps=DeterministicFakeEmbedding(size=4))
    store = make_store(embedding=embedder)
    ids = store.add_embeddings(["a", "b"], [[1.0, 0, 0, 0], [0, 1.0, 0, 0]], [{"k": 1}, {"k": 2}], ["ia", "ib"])
    assert ids == ["ia", "ib"]
    assert embedder.embed_documents.call_count == 0
    (doc, distance), *_ = store.similarity_search_with_score_by_vector([1.0, 0, 0, 0], k=2)
    assert (doc.id, doc.page_content, doc.metadata, distance) == ("ia", "a", {"k": 1}, 0.0)
    with pytest.raises(ConfigurationError, match="2 embeddings for 1 texts"):
        store.add_embeddings(["a"], [[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    with pytest.raises(ConfigurationError, match="unsupported keyword"):
        store.add_embeddings(["a"], [[1.0, 0, 0, 0]], nonsense=1)


async def test_aadd_embeddings(make_store: StoreFactory) -> None:
    store = make_store()
    ids = await store.aadd_embeddings(["a", "b", "c"], [[1.0] * 8, [0.5] * 8, [-1.0] * 8], batch_size=2)
    assert len(ids) == 3
    assert {d.page_content for d in store.get_by_ids(ids)} == {"a", "b", "c"}


def test_from_embeddings(tmp_path: Path, lc_key: bytes) -> None:
    emb = DeterministicFakeEmbedding(size=8)
    pairs = list(zip(["foo", "bar"], emb.embed_documents(["foo", "bar"]), strict=True))
    with VecVaultVectorStore.from_embeddings(
        pairs, emb, [{"p": 0}, {"p": 1}], ids=["0", "1"], path=tmp_path / "e.db", key=lc_key
    ) as store:
        assert store.similarity_search("foo", k=1) == [Document(page_content="foo", metadata={"p": 0}, id="0")]


async def test_afrom_embeddings(tmp_path: Path, lc_key: bytes) -> None:
    emb = DeterministicFakeEmbedding(size=8)
    pairs = list(zip(["foo", "bar"], emb.embed_documents(["foo", "bar"]), strict=True))
    store = await VecVaultVectorStore.afrom_embeddings(pairs, emb, path=tmp_path / "e.db", key=lc_key)
    try:
        assert [d.page_content for d in await store.asimilarity_search("bar", k=1)] == ["bar"]
    finally:
        store.close()


# -- MMR with scores ----------------------------------------------------------------------------------------


async def test_mmr_with_score_gives_distances(make_store: StoreFactory) -> None:
    store = make_store()
    store.add_documents(PETS)
    sync = store.max_marginal_relevance_search_with_score("cats purr", k=2, fetch_k=3)
    assert sync[0][0].id == "c" and sync[0][1] == 0.0
    assert [d.id for d, _ in sync] == [d.id for d in store.max_marginal_relevance_search("cats purr", k=2, fetch_k=3)]
    async_ = await store.amax_marginal_relevance_search_with_score("cats purr", k=2, fetch_k=3)
    assert [(d.id, s) for d, s in async_] == [(d.id, s) for d, s in sync]
    vector = DeterministicFakeEmbedding(size=8).embed_query("cats purr")
    by_vector = store.max_marginal_relevance_search_with_score_by_vector(vector, k=2, fetch_k=3, filter={"n": 2})
    assert [d.id for d, _ in by_vector] == ["d"] and by_vector[0][1] > 0.0
    abv = await store.amax_marginal_relevance_search_with_score_by_vector(vector, k=2, fetch_k=3, filter={"n": 2})
    assert [(d.id, s) for d, s in abv] == [(d.id, s) for d, s in by_vector]


# -- updates ------------------------------------------------------------------------------------------------


async def test_update_documents(make_store: StoreFactory) -> None:
    store = make_store()
    store.add_documents(PETS)
    store.update_document("c", Document(page_content="cats nap", metadata={"topic": "pets", "n": 10}))
    assert store.get_by_ids(["c"]) == [Document(page_content="cats nap", metadata={"topic": "pets", "n": 10}, id="c")]
    assert store.similarity_search("cats nap", k=1)[0].id == "c"
    await store.aupdate_documents(["d", "s"], [Document(page_content="dogs nap"), Document(page_content="bonds")])
    assert [d.page_content for d in store.get_by_ids(["d", "s"])] == ["dogs nap", "bonds"]
    await store.aupdate_document("d", Document(page_content="dogs run", metadata={"x": 1}))
    assert store.get_by_ids(["d"])[0].metadata == {"x": 1}
    assert store.collection.count() == 3


async def test_update_of_an_unknown_id_changes_nothing(make_store: StoreFactory) -> None:
    embedder = Mock(wraps=DeterministicFakeEmbedding(size=8))
    store = make_store(embedding=embedder)
    store.add_documents(PETS)
    calls = embedder.embed_documents.call_count
    with pytest.raises(ConfigurationError, match=r"no record with id\(s\) \['zz'\].*add_documents"):
        store.update_documents(["c", "zz"], [Document(page_content="x"), Document(page_content="y")])
    with pytest.raises(ConfigurationError, match="zz"):
        await store.aupdate_document("zz", Document(page_content="y"))
    with pytest.raises(ConfigurationError, match="one id per document"):
        store.update_documents(["c"], [])
    assert embedder.embed_documents.call_count == calls
    assert store.get_by_ids(["c"])[0].page_content == "cats purr"


# -- the collection itself ----------------------------------------------------------------------------------


async def test_delete_and_reset_collection(make_store: StoreFactory) -> None:
    store = make_store(collection_name="pets", metric="euclidean")
    other = make_store(vault=store.vault, collection_name="other")
    other.add_texts(["kept"])
    store.add_documents(PETS)
    store.delete_collection()
    assert "pets" not in store.vault.collections()
    assert store.similarity_search("cats", k=3) == []
    store.add_documents(PETS[:1])  # usable again: the collection comes back with its metric
    assert store.metric == "euclidean" and store.collection.count() == 1
    store.reset_collection()
    assert store.get()["ids"] == []
    store.add_documents(PETS)
    await store.areset_collection()
    assert await store.asimilarity_search("cats", k=3) == []
    store.add_documents(PETS)
    await store.adelete_collection()
    assert "pets" not in store.vault.collections()
    assert [d.page_content for d in other.similarity_search("kept", k=1)] == ["kept"]


def test_create_collection_if_not_exists_false(make_store: StoreFactory) -> None:
    with pytest.raises(ConfigurationError, match=r"Collection 'missing' does not exist"):
        make_store(collection_name="missing", create_collection_if_not_exists=False)
    first = make_store(collection_name="made")
    first.add_texts(["x"])
    again = make_store(vault=first.vault, collection_name="made", create_collection_if_not_exists=False)
    assert again.collection.count() == 1


def test_pre_delete_collection(make_store: StoreFactory) -> None:
    first = make_store(collection_name="t")
    first.add_texts(["old"])
    fresh = make_store(vault=first.vault, collection_name="t", pre_delete_collection=True)
    assert fresh.collection.count() == 0


# -- Chroma's get -------------------------------------------------------------------------------------------


async def test_get_like_chroma(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.get() == {
        "ids": [],
        "documents": [],
        "metadatas": [],
        "embeddings": None,
        "included": ["documents", "metadatas"],
    }
    store.add_documents(PETS)
    everything = store.get()
    assert everything["ids"] == ["c", "d", "s"]
    assert everything["documents"] == ["cats purr", "dogs bark", "stocks fall"]
    assert everything["metadatas"][2] == {"topic": "money", "n": 3, "note": None}
    assert store.get(where={"topic": "pets"})["ids"] == ["c", "d"]
    assert store.get(where={"specs.legs": 4}, limit=1)["ids"] == ["c"]
    assert store.get(where={"topic": "pets"}, limit=1, offset=1)["ids"] == ["d"]
    assert store.get(limit=2, offset=1)["ids"] == ["d", "s"]
    assert store.get(offset=5)["ids"] == []
    assert store.get("s")["documents"] == ["stocks fall"]
    assert store.get(["s", "nope", "c"], where={"topic": "pets"})["ids"] == ["c"]
    only_meta = store.get(ids=["c"], include=["metadatas"])
    assert only_meta["documents"] is None and only_meta["metadatas"] == [PETS[0].metadata]
    with_vectors = store.get(ids=["c"], include=["embeddings"])
    assert with_vectors["embeddings"] is not None and len(with_vectors["embeddings"][0]) == 8
    assert (await store.aget(where={"note": {"$exists": True}}))["ids"] == ["s"]
    with pytest.raises(ConfigurationError, match="where_document"):
        store.get(where_document={"$contains": "cat"})
    with pytest.raises(ConfigurationError, match="include"):
        store.get(include=["distances"])
    with pytest.raises(ConfigurationError, match="offset"):
        store.get(offset=-1)
    with pytest.raises(UnsupportedFilterError, match="did you mean"):
        store.get(where={"topic": {"eq": "pets"}})


# -- items 3 and 4 through the adapter ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "meant"),
    [
        ({"and": [{"topic": {"eq": "pets"}}, {"n": {"gt": 1}}]}, "$and"),
        ({"$and": [{"topic": {"eq": "pets"}}]}, "$eq"),
        ({"or": [{"topic": "pets"}]}, "$or"),
        ({"n": {"lte": 2}}, "$lte"),
    ],
)
async def test_filters_without_dollar_raise_before_embedding(
    make_store: StoreFactory, flt: dict[str, Any], meant: str
) -> None:
    embedder = Mock(wraps=DeterministicFakeEmbedding(size=8))
    store = make_store(embedding=embedder)
    store.add_documents(PETS)
    calls = embedder.embed_query.call_count
    with pytest.raises(UnsupportedFilterError, match=f"did you mean `\\{meant}`"):
        store.similarity_search("pets", filter=flt)
    with pytest.raises(UnsupportedFilterError, match="did you mean"):
        await store.asimilarity_search("pets", filter=flt)
    with pytest.raises(UnsupportedFilterError, match="did you mean"):
        store.delete(filter=flt)
    assert embedder.embed_query.call_count == calls
    assert store.collection.count() == 3


async def test_pgvector_filter_forms(make_store: StoreFactory) -> None:
    store = make_store()
    store.add_documents(PETS)
    for flt, expected in [
        ({"$not": [{"topic": "money"}]}, {"c", "d"}),
        ({"$not": [{"n": 1}, {"n": 3}]}, {"d"}),
        ({"note": {"$exists": True}}, {"s"}),
        ({"note": {"$exists": False}}, {"c", "d"}),
        ({"specs.legs": 4}, {"c", "d"}),
        ({"specs.legs": {"$gt": 4}}, set()),
    ]:
        assert {d.id for d in store.similarity_search("x", k=3, filter=flt)} == expected, flt
        assert {d.id for d in await store.asimilarity_search("x", k=3, filter=flt)} == expected, flt


def test_embeddings_property_is_what_was_given(make_store: StoreFactory) -> None:
    duck = DuckEmbeddings()
    store = make_store(embedding=duck)
    assert store.embeddings is duck
    assert isinstance(make_store(embedding=DeterministicFakeEmbedding(size=8)).embeddings, Embeddings)
