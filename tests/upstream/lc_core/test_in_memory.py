"""langchain-core's InMemoryVectorStore tests, ported to VecVaultVectorStore.

Source: langchain-ai/langchain ``libs/core/tests/unit_tests/vectorstores/test_in_memory.py`` at 2ae1f68 (the
version whose expected orders hold for the installed langchain-core's ``DeterministicFakeEmbedding``).
Assertions are upstream's. Changes: ``InMemoryVectorStore(...)`` / ``.afrom_texts(...)`` get ``vault=vault``;
``vectorstore.store.keys()`` (the in-memory dict) reads ``vectorstore.collection.ids()``; ``upsert`` /
``aupsert`` (removed from langchain-core 1.x) are ``add_documents`` / ``aadd_documents``; the filter is the
dict ``{"id": 1}`` (vecvault filters are ``$`` dicts, not Python callables); in the mock test the async mocks
wrap the real async methods (vecvault stores the vectors it is given, so a bare ``AsyncMock`` returning a
``MagicMock`` cannot be stored) and ``aadd_texts`` gets ``["foo"]`` (vecvault refuses a bare string as texts).
``ReadWriteTestSuite`` is not repeated here: ``tests/adapters/langchain/test_langchain_standard.py`` runs
``VectorStoreIntegrationTests``, its successor. ``dump``/``load`` do not apply (see the skip).
"""

from __future__ import annotations

from typing import Any
from unittest.mock import AsyncMock, Mock

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings.fake import DeterministicFakeEmbedding

from langchain_vecvault import VecVaultVectorStore
from vecvault import Vault

InMemoryVectorStore = VecVaultVectorStore


class _AnyIdDocument(Document):
    """A document with an id that compares equal to any id (langchain-core's tests/unit_tests/stubs.py)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return self.page_content == other.page_content and self.metadata == other.metadata

    __hash__ = None  # type: ignore[assignment]


def _any_id_document(**kwargs: Any) -> Document:
    return _AnyIdDocument(**kwargs)


async def test_inmemory_similarity_search(vault: Vault) -> None:
    """Test end to end similarity search."""
    store = await InMemoryVectorStore.afrom_texts(
        ["foo", "bar", "baz"], DeterministicFakeEmbedding(size=3), vault=vault
    )

    # Check sync version
    output = store.similarity_search("foo", k=1)
    assert output == [_any_id_document(page_content="foo")]

    # Check async version
    output = await store.asimilarity_search("bar", k=2)
    assert output == [
        _any_id_document(page_content="bar"),
        _any_id_document(page_content="foo"),
    ]


async def test_inmemory_similarity_search_with_score(vault: Vault) -> None:
    """Test end to end similarity search with score."""
    store = await InMemoryVectorStore.afrom_texts(
        ["foo", "bar", "baz"], DeterministicFakeEmbedding(size=3), vault=vault
    )

    output = store.similarity_search_with_score("foo", k=1)
    assert output[0][0].page_content == "foo"

    output = await store.asimilarity_search_with_score("bar", k=2)
    # Upstream: output[0][1] > output[1][1], InMemoryVectorStore's score being a similarity. vecvault's score
    # is a distance (lower is closer), as langchain-chroma and PGVector.
    assert output[0][1] < output[1][1]


async def test_add_by_ids(vault: Vault) -> None:
    """Test add texts with ids."""
    vectorstore = InMemoryVectorStore(embedding=DeterministicFakeEmbedding(size=6), vault=vault)

    # Check sync version
    ids1 = vectorstore.add_texts(["foo", "bar", "baz"], ids=["1", "2", "3"])
    assert ids1 == ["1", "2", "3"]
    assert sorted(vectorstore.collection.ids()) == ["1", "2", "3"]

    # Check async version
    ids2 = await vectorstore.aadd_texts(["foo", "bar", "baz"], ids=["4", "5", "6"])
    assert ids2 == ["4", "5", "6"]
    assert sorted(vectorstore.collection.ids()) == ["1", "2", "3", "4", "5", "6"]


async def test_inmemory_mmr(vault: Vault) -> None:
    """Test MMR search."""
    texts = ["foo", "foo", "fou", "foy"]
    docsearch = await InMemoryVectorStore.afrom_texts(texts, DeterministicFakeEmbedding(size=6), vault=vault)
    # make sure we can k > docstore size
    output = docsearch.max_marginal_relevance_search("foo", k=10, lambda_mult=0.1)
    assert len(output) == len(texts)
    assert output[0] == _any_id_document(page_content="foo")
    assert output[1] == _any_id_document(page_content="fou")

    # Check async version
    output = await docsearch.amax_marginal_relevance_search("foo", k=10, lambda_mult=0.1)
    assert len(output) == len(texts)
    assert output[0] == _any_id_document(page_content="foo")
    assert output[1] == _any_id_document(page_content="fou")


@pytest.mark.skip(reason="dump()/load() write the in-memory store to JSON; a vault is already a sealed file")
async def test_inmemory_dump_load() -> None:
    """Test end to end construction and search."""


async def test_inmemory_filter(vault: Vault) -> None:
    """Test end to end construction and search with filter."""
    store = await InMemoryVectorStore.afrom_texts(
        ["foo", "bar"], DeterministicFakeEmbedding(size=6), [{"id": 1}, {"id": 2}], vault=vault
    )

    # Check sync version
    output = store.similarity_search("fee", filter={"id": 1})
    assert output == [_any_id_document(page_content="foo", metadata={"id": 1})]

    # filter with not stored document id
    output = await store.asimilarity_search("baz", filter={"id": 3})
    assert output == []


async def test_inmemory_upsert(vault: Vault) -> None:
    """Test upsert documents."""
    embedding = DeterministicFakeEmbedding(size=2)
    store = InMemoryVectorStore(embedding=embedding, vault=vault)

    # Check sync version
    store.add_documents([Document(page_content="foo", id="1")])
    assert sorted(store.collection.ids()) == ["1"]

    # Check async version
    await store.aadd_documents([Document(page_content="bar", id="2")])
    assert sorted(store.collection.ids()) == ["1", "2"]

    # update existing document
    await store.aadd_documents([Document(page_content="baz", id="2", metadata={"metadata": "value"})])
    (record,) = store.collection.get(["2"])
    assert record.vector is not None
    item = {"id": record.id, "text": record.text, "vector": record.vector.tolist(), "metadata": record.metadata}

    baz_vector = embedding.embed_query("baz")
    # Upstream compares the whole dict exactly; vecvault stores vectors as float32, hence approx.
    assert item == {
        "id": "2",
        "text": "baz",
        "vector": pytest.approx(baz_vector, rel=1e-6),
        "metadata": {"metadata": "value"},
    }


async def test_inmemory_get_by_ids(vault: Vault) -> None:
    """Test get by ids."""
    store = InMemoryVectorStore(embedding=DeterministicFakeEmbedding(size=3), vault=vault)

    store.add_documents(
        [
            Document(page_content="foo", id="1", metadata={"metadata": "value"}),
            Document(page_content="bar", id="2"),
            Document(page_content="baz", id="3"),
        ],
    )

    # Check sync version
    output = store.get_by_ids(["1", "2"])
    assert output == [
        Document(page_content="foo", id="1", metadata={"metadata": "value"}),
        Document(page_content="bar", id="2"),
    ]

    # Check async version
    output = await store.aget_by_ids(["1", "3", "5"])
    assert output == [
        Document(page_content="foo", id="1", metadata={"metadata": "value"}),
        Document(page_content="baz", id="3"),
    ]


async def test_inmemory_call_embeddings_async(vault: Vault) -> None:
    real = DeterministicFakeEmbedding(size=3)
    embeddings_mock = Mock(
        wraps=real,
        aembed_documents=AsyncMock(side_effect=real.aembed_documents),
        aembed_query=AsyncMock(side_effect=real.aembed_query),
    )
    store = InMemoryVectorStore(embedding=embeddings_mock, vault=vault)

    await store.aadd_texts(["foo"])
    await store.asimilarity_search("foo", k=1)

    # Ensure the async embedding function is called
    assert embeddings_mock.aembed_documents.await_count == 1
    assert embeddings_mock.aembed_query.await_count == 1
