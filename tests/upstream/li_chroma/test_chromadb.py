"""llama-index-vector-stores-chroma's tests, ported to the vecvault LlamaIndex store.

Sources (run-llama/llama_index, ``llama-index-integrations/vector_stores/llama-index-vector-stores-chroma/
tests/``): ``test_chromadb.py`` at bdc56a6 and ``test_mmr.py`` at 0a6ebbd. Assertions are upstream's.
Changes: the ``vector_store`` fixture is a ``VecVaultVectorStore`` on the test's vault instead of a Chroma
collection of an in-process client; ``from_collection(col)`` is the same store filled with the collection's
rows; the constructors that take Chroma clients or servers are marked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from llama_index.vector_stores.vecvault import VecVaultVectorStore
from vecvault import Vault

COLLECTION_NAME = "llama_collection"


@pytest.mark.skip(reason="from_params(host=, port=): a Chroma HTTP server")
def test_instance_creation_from_http_params() -> None:
    """ChromaVectorStore.from_params(host=..., port=...)."""


def test_instance_creation_from_collection(vault: Vault) -> None:
    store = VecVaultVectorStore(vault=vault, collection_name=COLLECTION_NAME)  # upstream: from_collection
    assert isinstance(store, VecVaultVectorStore)


def test_instance_creation_from_persist_dir(tmp_path: Path) -> None:
    store = VecVaultVectorStore.from_params(
        path=tmp_path / "data.db", key=os.urandom(32), collection_name=COLLECTION_NAME
    )
    try:
        assert isinstance(store, VecVaultVectorStore)
    finally:
        store.close()


@pytest.fixture
def vector_store(vault: Vault) -> Iterator[VecVaultVectorStore]:
    store = VecVaultVectorStore(vault=vault, collection_name=COLLECTION_NAME)
    yield store
    vault.drop_collection(COLLECTION_NAME)


@pytest.fixture
def node_embeddings() -> list[TextNode]:
    return [
        TextNode(
            text="lorem ipsum",
            id_="c330d77f-90bd-4c51-9ed2-57d8d693b3b0",
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="test-0")},
            metadata={"author": "Stephen King", "theme": "Friendship"},
            embedding=[1.0, 0.0, 0.0],
        ),
        TextNode(
            text="lorem ipsum",
            id_="c3d1e1dd-8fb4-4b8f-b7ea-7fa96038d39d",
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="test-1")},
            metadata={"director": "Francis Ford Coppola", "theme": "Mafia"},
            embedding=[0.0, 1.0, 0.0],
        ),
        TextNode(
            text="lorem ipsum",
            id_="c3ew11cd-8fb4-4b8f-b7ea-7fa96038d39d",
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="test-2")},
            metadata={"director": "Christopher Nolan"},
            embedding=[0.0, 0.0, 1.0],
        ),
        TextNode(
            text="I was taught that the way of progress was neither swift nor easy.",
            id_="0b31ae71-b797-4e88-8495-031371a7752e",
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="text-3")},
            metadata={"author": "Marie Curie"},
            embedding=[0.0, 0.0, 0.9],
        ),
        TextNode(
            text=("The important thing is not to stop questioning. Curiosity has its own reason for existing."),
            id_="bd2e080b-159a-4030-acc3-d98afd2ba49b",
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="text-4")},
            metadata={"author": "Albert Einstein"},
            embedding=[0.0, 0.0, 0.5],
        ),
        TextNode(
            text=("I am no bird; and no net ensnares me; I am a free human being with an independent will."),
            id_="f658de3b-8cef-4d1c-8bed-9a263c907251",
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="text-5")},
            metadata={"author": "Charlotte Bronte"},
            embedding=[0.0, 0.0, 0.3],
        ),
    ]


@pytest.mark.parametrize("use_async", [True, False])
async def test_add_to_chromadb_and_query(
    vector_store: VecVaultVectorStore, node_embeddings: list[TextNode], use_async: bool
) -> None:
    if use_async:
        await vector_store.async_add(node_embeddings)
        res = await vector_store.aquery(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=1))
    else:
        vector_store.add(node_embeddings)
        res = vector_store.query(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=1))
    assert res.nodes
    assert res.nodes[0].get_content() == "lorem ipsum"


@pytest.mark.parametrize("use_async", [True, False])
async def test_add_to_chromadb_and_query_by_metafilters_only(
    vector_store: VecVaultVectorStore, node_embeddings: list[TextNode], use_async: bool
) -> None:
    filters = MetadataFilters(
        filters=[MetadataFilter(key="author", value="Marie Curie", operator=FilterOperator.EQ)],
        condition=FilterCondition.AND,
    )

    if use_async:
        await vector_store.async_add(node_embeddings)
        res = await vector_store.aquery(VectorStoreQuery(filters=filters, similarity_top_k=1))
    else:
        vector_store.add(node_embeddings)
        res = vector_store.query(VectorStoreQuery(filters=filters, similarity_top_k=1))

    assert res.nodes is not None
    assert res.nodes[0].get_content() == "I was taught that the way of progress was neither swift nor easy."


def test_get_nodes(vector_store: VecVaultVectorStore, node_embeddings: list[TextNode]) -> None:
    vector_store.add(node_embeddings)
    res = vector_store.get_nodes(
        node_ids=[
            "c330d77f-90bd-4c51-9ed2-57d8d693b3b0",
            "c3d1e1dd-8fb4-4b8f-b7ea-7fa96038d39d",
            "c3ew11cd-8fb4-4b8f-b7ea-7fa96038d39d",
        ]
    )
    assert len(res) == 3
    assert res[0].get_content() == "lorem ipsum"
    assert res[1].get_content() == "lorem ipsum"
    assert res[2].get_content() == "lorem ipsum"


def test_delete_nodes(vector_store: VecVaultVectorStore, node_embeddings: list[TextNode]) -> None:
    vector_store.add(node_embeddings)
    vector_store.delete_nodes(node_ids=["c330d77f-90bd-4c51-9ed2-57d8d693b3b0", "c3d1e1dd-8fb4-4b8f-b7ea-7fa96038d39d"])
    res = vector_store.get_nodes(
        node_ids=[
            "c330d77f-90bd-4c51-9ed2-57d8d693b3b0",
            "c3d1e1dd-8fb4-4b8f-b7ea-7fa96038d39d",
            "c3ew11cd-8fb4-4b8f-b7ea-7fa96038d39d",
        ]
    )
    assert len(res) == 1
    assert res[0].get_content() == "lorem ipsum"
    assert res[0].id_ == "c3ew11cd-8fb4-4b8f-b7ea-7fa96038d39d"


def test_clear(vector_store: VecVaultVectorStore, node_embeddings: list[TextNode]) -> None:
    vector_store.add(node_embeddings)
    vector_store.clear()
    res = vector_store.get_nodes(
        node_ids=[
            "c330d77f-90bd-4c51-9ed2-57d8d693b3b0",
            "c3d1e1dd-8fb4-4b8f-b7ea-7fa96038d39d",
            "c3ew11cd-8fb4-4b8f-b7ea-7fa96038d39d",
        ]
    )
    assert len(res) == 0


# -- test_mmr.py --------------------------------------------------------------------------------------------


def _build_simple_collection(vault: Vault) -> VecVaultVectorStore:
    """Upstream builds a Chroma collection and wraps it with ChromaVectorStore.from_collection(col)."""
    store = VecVaultVectorStore(vault=vault, collection_name="chroma_mmr_test")
    embeddings = [[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]]
    store.add(
        [
            TextNode(id_=f"id_{i}", text=f"doc_{i}", metadata={"label": f"m{i}"}, embedding=embedding)
            for i, embedding in enumerate(embeddings)
        ]
    )
    return store


def test_chroma_mmr_happy_path_returns_k_results(vault: Vault) -> None:
    vs = _build_simple_collection(vault)
    query = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=2, mode=VectorStoreQueryMode.MMR)

    # Should not raise and should return exactly top_k results
    res = vs.query(query, mmr_threshold=0.5)

    # Either nodes or ids must be populated
    if res.ids is not None:
        assert len(res.ids) == 2
    elif res.nodes is not None:
        assert len(res.nodes) == 2
    else:
        pytest.fail("VectorStoreQueryResult must contain ids or nodes")


def test_chroma_mmr_conflicting_prefetch_params_raises(vault: Vault) -> None:
    vs = _build_simple_collection(vault)
    query = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=2, mode=VectorStoreQueryMode.MMR)

    with pytest.raises(ValueError):
        vs.query(query, mmr_threshold=0.5, mmr_prefetch_k=16, mmr_prefetch_factor=2.0)
