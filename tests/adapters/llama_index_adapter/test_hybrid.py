"""LlamaIndex query modes over vecvault's BM25 index: TEXT_SEARCH, SPARSE, HYBRID (alpha, hybrid_top_k,
sparse_top_k), filters without an embedding, and the retriever end to end, sync and async."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores import MetadataFilter, MetadataFilters
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode
from tests.adapters.llama_index_adapter.helpers import HashEmbedding

from llama_index.vector_stores.vecvault import VecVaultVectorStore
from vecvault import ConfigurationError
from vecvault.search.fusion import reciprocal_rank_fusion, relative_score_fusion

pytest.importorskip("tantivy")

TEXTS = {
    "join": "Build a path with os.path.join(base, name) instead of adding strings.",
    "parse": "C extensions read their arguments with PyArg_ParseTuple and a format string.",
    "sort": "Sort a list in place with list.sort(), or get a new sorted list from sorted().",
    "dict": "Dictionaries map keys to values; iterate over items() to get both.",
    "error": "The installer stops with error code E1234 when the disk is full.",
}
EMBED = HashEmbedding(dim=64)


@pytest.fixture
def filled(li_store: VecVaultVectorStore) -> VecVaultVectorStore:
    nodes = [
        TextNode(
            id_=key, text=text, metadata={"n": i, "kind": "code" if i % 2 else "prose"}, embedding=EMBED._embed(text)
        )
        for i, (key, text) in enumerate(TEXTS.items())
    ]
    li_store.add(nodes)
    return li_store


async def _query(store: VecVaultVectorStore, query: VectorStoreQuery, use_async: bool, **kwargs: Any) -> Any:
    return await store.aquery(query, **kwargs) if use_async else store.query(query, **kwargs)


@pytest.mark.parametrize("use_async", [False, True])
@pytest.mark.parametrize("mode", [VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.SPARSE])
async def test_text_modes_need_no_embedding(filled: VecVaultVectorStore, use_async: bool, mode: Any) -> None:
    result = await _query(
        filled, VectorStoreQuery(query_str="PyArg_ParseTuple", similarity_top_k=3, mode=mode), use_async
    )
    assert result.ids == ["parse"]
    assert result.nodes[0].get_content() == TEXTS["parse"]
    assert result.similarities == [1.0]
    wider = await _query(
        filled, VectorStoreQuery(query_str="list path", similarity_top_k=1, sparse_top_k=5, mode=mode), use_async
    )
    assert set(wider.ids) == {"join", "sort"}  # sparse_top_k wins over similarity_top_k, as in the Postgres store
    assert all(0.0 <= s <= 1.0 for s in wider.similarities)


@pytest.mark.parametrize("use_async", [False, True])
async def test_text_search_with_filters(filled: VecVaultVectorStore, use_async: bool) -> None:
    filters = MetadataFilters(filters=[MetadataFilter(key="kind", value="code")])
    query = VectorStoreQuery(query_str="list path strings", similarity_top_k=5, mode="text_search", filters=filters)
    result = await _query(filled, query, use_async)
    assert result.ids and all(node.metadata["kind"] == "code" for node in result.nodes)
    assert "join" not in result.ids  # kind prose


@pytest.mark.parametrize("use_async", [False, True])
async def test_hybrid_without_alpha_is_rrf(filled: VecVaultVectorStore, use_async: bool) -> None:
    text = "sort a list E1234"
    embedding = EMBED._embed(text)
    query = VectorStoreQuery(query_str=text, query_embedding=embedding, similarity_top_k=3, mode="hybrid")
    result = await _query(filled, query, use_async)
    dense = filled.collection.search(embedding, k=10)
    lexical = filled.collection.search_text(text, k=10)
    expected = reciprocal_rank_fusion([[(h.id, h.score) for h in dense], [(h.id, h.score) for h in lexical]])[:3]
    assert result.ids == [i for i, _ in expected]
    assert all(0.0 <= s <= 1.0 for s in result.similarities)


@pytest.mark.parametrize("use_async", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
async def test_hybrid_alpha_is_relative_score_fusion(
    filled: VecVaultVectorStore, use_async: bool, alpha: float
) -> None:
    text = "sort a list E1234"
    embedding = EMBED._embed(text)
    query = VectorStoreQuery(
        query_str=text,
        query_embedding=embedding,
        similarity_top_k=4,
        sparse_top_k=4,
        hybrid_top_k=3,
        mode="hybrid",
        alpha=alpha,
    )
    result = await _query(filled, query, use_async)
    dense = filled.collection.search(embedding, k=4)
    lexical = filled.collection.search_text(text, k=4)
    expected = relative_score_fusion([(h.id, h.score) for h in dense], [(h.id, h.score) for h in lexical], alpha)[:3]
    assert result.ids == [i for i, _ in expected]
    # the dense leg fuses its float32 ranking scores; search() re-scores in float64 (relative error ~1e-6)
    assert result.similarities == pytest.approx([s for _, s in expected], rel=1e-5)


def test_hybrid_arguments_are_checked(filled: VecVaultVectorStore) -> None:
    embedding = EMBED._embed("list")
    with pytest.raises(ConfigurationError, match="query_str"):
        filled.query(VectorStoreQuery(query_embedding=embedding, mode="hybrid"))
    with pytest.raises(ConfigurationError, match="query_embedding"):
        filled.query(VectorStoreQuery(query_str="list", mode="hybrid"))
    with pytest.raises(ConfigurationError, match="query_str"):
        filled.query(VectorStoreQuery(query_embedding=embedding, mode="text_search"))
    with pytest.raises(ConfigurationError, match="alpha"):
        filled.query(VectorStoreQuery(query_str="list", query_embedding=embedding, mode="hybrid", alpha=1.5))
    with pytest.raises(ConfigurationError, match="Invalid fusion"):
        filled.query(VectorStoreQuery(query_str="list", query_embedding=embedding, mode="hybrid"), fusion="max")
    with pytest.raises(ConfigurationError, match="empty"):
        filled.query(VectorStoreQuery(query_str="  ", mode="text_search"))
    explicit = filled.query(
        VectorStoreQuery(query_str="list", query_embedding=embedding, mode="hybrid", similarity_top_k=2),
        fusion="relative",
    )
    assert len(explicit.ids) == 2


@pytest.mark.parametrize("use_async", [False, True])
async def test_filters_without_an_embedding_return_the_matching_nodes(
    filled: VecVaultVectorStore, use_async: bool
) -> None:
    filters = MetadataFilters(filters=[MetadataFilter(key="n", operator=">=", value=3)])
    result = await _query(filled, VectorStoreQuery(filters=filters, similarity_top_k=10), use_async)
    assert sorted(result.ids) == ["dict", "error"]
    assert not result.similarities  # as the Chroma store: no similarity without a query embedding
    capped = await _query(filled, VectorStoreQuery(filters=filters, similarity_top_k=1), use_async)
    assert len(capped.ids) == 1
    by_id = await _query(filled, VectorStoreQuery(node_ids=["sort"], similarity_top_k=10), use_async)
    assert by_id.ids == ["sort"]
    anything = await _query(filled, VectorStoreQuery(similarity_top_k=1), use_async)  # no filter either: as Chroma
    assert len(anything.ids) == 1


@pytest.mark.parametrize("use_async", [False, True])
async def test_retriever_end_to_end(li_store: VecVaultVectorStore, use_async: bool) -> None:
    docs = [Document(text=text, doc_id=key, metadata={"key": key}) for key, text in TEXTS.items()]
    index = VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=li_store), embed_model=EMBED
    )
    hybrid = index.as_retriever(vector_store_query_mode="hybrid", alpha=0.5, similarity_top_k=5)
    text = index.as_retriever(vector_store_query_mode="text_search", similarity_top_k=2)
    rrf = index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=2)
    if use_async:
        hits = await hybrid.aretrieve("what does error E1234 mean")
        keyword = await text.aretrieve("PyArg_ParseTuple")
        fused = await rrf.aretrieve("os.path.join")
    else:
        hits = hybrid.retrieve("what does error E1234 mean")
        keyword = text.retrieve("PyArg_ParseTuple")
        fused = rrf.retrieve("os.path.join")
    assert len(hits) == 5
    assert hits[0].node.metadata["key"] == "error"
    assert all(h.score is not None and 0.0 <= h.score <= 1.0 for h in hits)
    assert [h.node.metadata["key"] for h in keyword] == ["parse"]
    assert fused[0].node.metadata["key"] == "join"
