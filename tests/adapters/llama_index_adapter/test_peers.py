"""What SimpleVectorStore and Chroma users expect from the LlamaIndex store (issue item 5 and the missing API).

Each test runs sync and async (``use_async``): ``doc_ids`` / ``node_ids`` restrictions, MMR keyword rules,
``get_nodes`` / ``delete_nodes`` with ids and filters, ``clear``, similarities, nested-metadata paths.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)

from llama_index.vector_stores.vecvault import VecVaultVectorStore
from vecvault import ConfigurationError

MODES = [VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR]


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def use_async(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def _nodes() -> list[TextNode]:
    return [
        TextNode(
            id_=f"{doc}-{chunk}",
            text=f"Document {doc}, chunk {chunk}",
            embedding=[1.0, float(chunk)],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
            metadata={"chunk": chunk, "specs": {"screen": "OLED" if doc == "a" else "LCD"}},
        )
        for doc in ["a", "b"]
        for chunk in [0, 1]
    ]


async def _query(store: VecVaultVectorStore, use_async: bool, **kwargs: Any) -> VectorStoreQueryResult:
    extra = kwargs.pop("extra", {})
    query = VectorStoreQuery(query_embedding=kwargs.pop("embedding", [1.0, 0.0]), similarity_top_k=10, **kwargs)
    return await store.aquery(query, **extra) if use_async else store.query(query, **extra)


async def _call(store: VecVaultVectorStore, name: str, use_async: bool, *args: Any, **kwargs: Any) -> Any:
    if use_async:
        return await getattr(store, "a" + name)(*args, **kwargs)
    return getattr(store, name)(*args, **kwargs)


@pytest.fixture
def store(li_store: VecVaultVectorStore) -> VecVaultVectorStore:
    li_store.add(_nodes())
    return li_store


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("doc_ids", "expected"),
    [(None, {"a-0", "a-1", "b-0", "b-1"}), ([], set()), (["missing"], set()), (["a"], {"a-0", "a-1"})],
)
async def test_doc_ids(
    store: VecVaultVectorStore,
    use_async: bool,
    mode: VectorStoreQueryMode,
    doc_ids: list[str] | None,
    expected: set[str],
) -> None:
    """``doc_ids=[]`` restricts to no document (SimpleVectorStore), not "no restriction"."""
    result = await _query(store, use_async, doc_ids=doc_ids, mode=mode)
    assert set(result.ids or []) == expected


async def test_empty_node_ids_are_no_restriction(store: VecVaultVectorStore, use_async: bool) -> None:
    assert len((await _query(store, use_async, node_ids=[])).ids or []) == 4
    assert (await _query(store, use_async, node_ids=["b-1", "zz"])).ids == ["b-1"]


async def test_prefetch_k_and_factor_together_raise(store: VecVaultVectorStore, use_async: bool) -> None:
    with pytest.raises(ValueError, match="mmr_prefetch_factor' and 'mmr_prefetch_k"):
        await _query(
            store, use_async, mode=VectorStoreQueryMode.MMR, extra={"mmr_prefetch_k": 16, "mmr_prefetch_factor": 2.0}
        )
    with pytest.raises(ConfigurationError):  # raised before noticing that no document can match
        await _query(
            store,
            use_async,
            mode=VectorStoreQueryMode.MMR,
            doc_ids=[],
            extra={"mmr_prefetch_k": 16, "mmr_prefetch_factor": 2.0},
        )
    # One of them, or an explicit None for the other, is fine.
    ok = await _query(store, use_async, mode="mmr", extra={"mmr_prefetch_k": 4, "mmr_prefetch_factor": None})
    assert len(ok.ids or []) == 4


@pytest.mark.parametrize(
    ("query_threshold", "kwargs", "expected_ids"),
    [
        (None, {}, ["x", "y"]),  # default 0.5
        (0.0, {}, ["x", "z"]),
        (1.0, {}, ["x", "y"]),
        (None, {"mmr_threshold": 0.0}, ["x", "z"]),
        (1.0, {"mmr_threshold": 0.0}, ["x", "z"]),  # the keyword wins over the query
        (0.0, {"mmr_threshold": 1.0}, ["x", "y"]),
        (0.0, {"mmr_threshold": None}, ["x", "y"]),  # even an explicit None (then the default)
    ],
)
async def test_mmr_threshold_keyword_wins(
    li_store: VecVaultVectorStore,
    use_async: bool,
    query_threshold: float | None,
    kwargs: dict[str, Any],
    expected_ids: list[str],
) -> None:
    li_store.add(
        [
            TextNode(id_="x", embedding=[1.0, 0.0]),
            TextNode(id_="y", embedding=[1.0, 0.0]),
            TextNode(id_="z", embedding=[0.0, 1.0]),
        ]
    )
    query = VectorStoreQuery(
        query_embedding=[1.0, 0.0], similarity_top_k=2, mode=VectorStoreQueryMode.MMR, mmr_threshold=query_threshold
    )
    result = await li_store.aquery(query, **kwargs) if use_async else li_store.query(query, **kwargs)
    assert result.ids == expected_ids


async def test_get_nodes_combinations(store: VecVaultVectorStore, use_async: bool) -> None:
    chunk1 = MetadataFilters(filters=[MetadataFilter(key="chunk", value=1)])
    ids = lambda nodes: [n.node_id for n in nodes]  # noqa: E731
    assert ids(await _call(store, "get_nodes", use_async)) == ["a-0", "a-1", "b-0", "b-1"]
    assert ids(await _call(store, "get_nodes", use_async, filters=chunk1)) == ["a-1", "b-1"]
    assert ids(await _call(store, "get_nodes", use_async, ["b-1", "zz", "a-0"])) == ["b-1", "a-0"]
    assert ids(await _call(store, "get_nodes", use_async, ["b-1", "a-0"], chunk1)) == ["b-1"]
    # Chroma: an empty list of ids is no restriction.
    assert len(await _call(store, "get_nodes", use_async, [])) == 4
    assert ids(await _call(store, "get_nodes", use_async, [], chunk1)) == ["a-1", "b-1"]
    node = (await _call(store, "get_nodes", use_async, ["a-1"]))[0]
    assert node.embedding == [1.0, 1.0] and node.ref_doc_id == "a" and node.metadata["specs"] == {"screen": "OLED"}


async def test_delete_nodes_combinations(store: VecVaultVectorStore, use_async: bool) -> None:
    chunk1 = MetadataFilters(filters=[MetadataFilter(key="chunk", value=1)])
    await _call(store, "delete_nodes", use_async, [])  # an empty list deletes nothing
    await _call(store, "delete_nodes", use_async, [], chunk1)
    assert store.collection.count() == 4
    await _call(store, "delete_nodes", use_async, ["a-0", "b-1"], chunk1)  # only the listed ids that match
    assert sorted(store.collection.ids()) == ["a-0", "a-1", "b-0"]
    await _call(store, "delete_nodes", use_async, filters=chunk1)
    assert sorted(store.collection.ids()) == ["a-0", "b-0"]
    await _call(store, "delete_nodes", use_async, ["a-0"])
    assert store.collection.ids() == ["b-0"]
    with pytest.raises(ConfigurationError, match="clear"):
        await _call(store, "delete_nodes", use_async)
    await _call(store, "clear", use_async)
    assert await _call(store, "get_nodes", use_async) == []
    assert (await _query(store, use_async)).ids == []


async def test_similarities_are_llama_index_cosine(li_store: VecVaultVectorStore, use_async: bool) -> None:
    li_store.add(
        [
            TextNode(id_=str(deg), embedding=[math.cos(math.radians(deg)), math.sin(math.radians(deg))])
            for deg in (0, 60, 120)
        ]
    )
    result = await _query(li_store, use_async)
    assert result.ids == ["0", "60", "120"]
    assert result.similarities == [1.0, pytest.approx(0.5), 0.0]  # cos 120° = -0.5, clamped at 0


async def test_nested_metadata_paths(store: VecVaultVectorStore, use_async: bool) -> None:
    oled = MetadataFilters(filters=[MetadataFilter(key="specs.screen", value="OLED")])
    assert set((await _query(store, use_async, filters=oled)).ids or []) == {"a-0", "a-1"}
    not_oled = MetadataFilters(
        filters=[MetadataFilter(key="specs.screen", value="OLED")], condition=FilterCondition.NOT
    )
    assert set((await _query(store, use_async, filters=not_oled)).ids or []) == {"b-0", "b-1"}
