"""Smoke tests: the LangChain and LlamaIndex stores over a vault on sqld (sync and async paths)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vecvault import Vault

pytestmark = pytest.mark.remote


async def test_langchain_store_over_a_remote_vault(open_remote: Callable[..., Vault]) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from langchain_vecvault import VecVaultVectorStore

    store = VecVaultVectorStore(DeterministicFakeEmbedding(size=8), vault=open_remote(), collection_name="lc")
    ids = store.add_documents(
        [Document("the cat sat", metadata={"kind": "pet"}), Document("stocks fell", metadata={"kind": "news"})],
        ids=["cat", "stocks"],
    )
    assert ids == ["cat", "stocks"]
    assert [d.page_content for d in store.similarity_search("the cat sat", k=1)] == ["the cat sat"]
    filtered = await store.asimilarity_search("the cat sat", k=2, filter={"kind": "news"})
    assert [d.id for d in filtered] == ["stocks"]
    assert [d.metadata for d in store.get_by_ids(["cat"])] == [{"kind": "pet"}]
    store.delete(["cat"])
    assert [d.id for d in await store.asimilarity_search("the cat sat", k=2)] == ["stocks"]


async def test_llama_index_store_over_a_remote_vault(open_remote: Callable[..., Vault]) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters, VectorStoreQuery

    from llama_index.vector_stores.vecvault import VecVaultVectorStore

    store = VecVaultVectorStore(vault=open_remote(), collection_name="li")
    nodes = [
        TextNode(id_="n1", text="alpha", embedding=[1.0, 0.0, 0.0], metadata={"tag": "a"}),
        TextNode(id_="n2", text="beta", embedding=[0.0, 1.0, 0.0], metadata={"tag": "b"}),
    ]
    assert store.add(nodes) == ["n1", "n2"]
    result = store.query(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=1))
    assert result.ids == ["n1"]
    filters = MetadataFilters(filters=[MetadataFilter(key="tag", value="b")])
    result = await store.aquery(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=2, filters=filters))
    assert result.ids == ["n2"]
    store.delete_nodes(node_ids=["n2"])
    result = await store.aquery(VectorStoreQuery(query_embedding=[0.0, 1.0, 0.0], similarity_top_k=2))
    assert result.ids == ["n1"]
