"""A reusable conformance suite for LlamaIndex vector stores (``BasePydanticVectorStore``).

LlamaIndex ships no upstream suite, so this one is written against the documented contract of
``llama_index.core.vector_stores.types.BasePydanticVectorStore`` and the behaviour of its reference
``SimpleVectorStore``. To run it on a store, subclass and provide a ``store`` fixture that yields an empty
store accepting 4-dimensional embeddings (and cleans up in ``finally``)::

    class TestMyStore(BasePydanticVectorStoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore(...)
            try:
                yield store
            finally:
                store.close()

Switch off what a store does not support with the class attributes below (each test that needs a feature
skips, saying which flag turned it off). Every test that touches the store runs twice, through the sync
method and through its async twin (``use_async``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)

ASYNC_TWINS = {
    "add": "async_add",
    "delete": "adelete",
    "delete_nodes": "adelete_nodes",
    "get_nodes": "aget_nodes",
    "clear": "aclear",
    "query": "aquery",
}

DIM = 4
Q_FOOD = [1.0, 0.0, 0.0, 0.0]
"""Query vector: order by similarity is n1 (1.0), n2 (0.98), n6 (0.71), then n3/n4/n5 tied at 0."""

CORPUS: list[tuple[str, str, list[float], dict[str, Any], str]] = [
    ("n1", "apple pie recipe", [1.0, 0.0, 0.0, 0.0],
     {"topic": "food", "n": 1, "tags": ["sweet", "baked"], "author": "Ann"}, "doc-a"),
    ("n2", "apple tart recipe", [0.98, 0.2, 0.0, 0.0],
     {"topic": "food", "n": 2, "tags": ["sweet"], "author": "Bob"}, "doc-a"),
    ("n3", "car engine repair", [0.0, 1.0, 0.0, 0.0],
     {"topic": "cars", "n": 3, "tags": ["engine"], "author": "ann"}, "doc-b"),
    ("n4", "bicycle gears", [0.0, 0.0, 1.0, 0.0],
     {"topic": "bikes", "n": 4, "tags": [], "author": "Cid"}, "doc-b"),
    ("n5", "weather report", [0.0, 0.0, 0.0, 1.0],
     {"topic": "weather", "n": 5, "author": ""}, "doc-c"),
    ("n6", "orange juice", [0.7, 0.0, 0.7, 0.0],
     {"topic": "food", "n": 6, "tags": ["sour"], "author": "Dee"}, "doc-c"),
]  # fmt: skip
ALL = {row[0] for row in CORPUS}


def _f(key: str, op: FilterOperator, value: Any) -> MetadataFilter:
    return MetadataFilter(key=key, operator=op, value=value)


FILTERS: list[tuple[str, MetadataFilters, set[str]]] = [
    ("eq", MetadataFilters(filters=[_f("topic", FilterOperator.EQ, "food")]), {"n1", "n2", "n6"}),
    ("ne", MetadataFilters(filters=[_f("topic", FilterOperator.NE, "food")]), {"n3", "n4", "n5"}),
    ("gt", MetadataFilters(filters=[_f("n", FilterOperator.GT, 4)]), {"n5", "n6"}),
    ("gte", MetadataFilters(filters=[_f("n", FilterOperator.GTE, 4)]), {"n4", "n5", "n6"}),
    ("lt", MetadataFilters(filters=[_f("n", FilterOperator.LT, 2)]), {"n1"}),
    ("lte", MetadataFilters(filters=[_f("n", FilterOperator.LTE, 2.0)]), {"n1", "n2"}),
    ("in", MetadataFilters(filters=[_f("topic", FilterOperator.IN, ["cars", "bikes"])]), {"n3", "n4"}),
    ("nin", MetadataFilters(filters=[_f("topic", FilterOperator.NIN, ["cars", "bikes"])]), {"n1", "n2", "n5", "n6"}),
    ("any", MetadataFilters(filters=[_f("tags", FilterOperator.ANY, ["engine", "sour"])]), {"n3", "n6"}),
    ("all", MetadataFilters(filters=[_f("tags", FilterOperator.ALL, ["sweet", "baked"])]), {"n1"}),
    ("text_match", MetadataFilters(filters=[_f("author", FilterOperator.TEXT_MATCH, "An")]), {"n1"}),
    (
        "text_match_insensitive",
        MetadataFilters(filters=[_f("author", FilterOperator.TEXT_MATCH_INSENSITIVE, "an")]),
        {"n1", "n3"},
    ),
    ("contains", MetadataFilters(filters=[_f("tags", FilterOperator.CONTAINS, "sweet")]), {"n1", "n2"}),
    ("is_empty", MetadataFilters(filters=[_f("tags", FilterOperator.IS_EMPTY, None)]), {"n4", "n5"}),
    ("missing_key_eq", MetadataFilters(filters=[_f("nope", FilterOperator.EQ, "x")]), set()),
    ("missing_key_ne", MetadataFilters(filters=[_f("nope", FilterOperator.NE, "x")]), ALL),
    (
        "and",
        MetadataFilters(filters=[_f("topic", FilterOperator.EQ, "food"), _f("n", FilterOperator.GT, 1)]),
        {"n2", "n6"},
    ),
    (
        "or",
        MetadataFilters(
            filters=[_f("topic", FilterOperator.EQ, "cars"), _f("n", FilterOperator.GTE, 6)],
            condition=FilterCondition.OR,
        ),
        {"n3", "n6"},
    ),
    (
        "not",
        MetadataFilters(
            filters=[_f("topic", FilterOperator.EQ, "food"), _f("n", FilterOperator.EQ, 5)],
            condition=FilterCondition.NOT,
        ),
        {"n3", "n4"},
    ),
    ("empty_filters", MetadataFilters(filters=[]), ALL),
]
NESTED_FILTERS: list[tuple[str, MetadataFilters, set[str]]] = [
    (
        "and_of_or",
        MetadataFilters(
            filters=[
                MetadataFilters(
                    filters=[_f("topic", FilterOperator.EQ, "cars"), _f("topic", FilterOperator.EQ, "bikes")],
                    condition=FilterCondition.OR,
                ),
                _f("n", FilterOperator.GT, 3),
            ]
        ),
        {"n4"},
    ),
    (
        "or_of_and_and_not",
        MetadataFilters(
            filters=[
                MetadataFilters(filters=[_f("topic", FilterOperator.EQ, "food"), _f("n", FilterOperator.LT, 2)]),
                MetadataFilters(filters=[_f("tags", FilterOperator.IS_EMPTY, None)], condition=FilterCondition.NOT),
            ],
            condition=FilterCondition.OR,
        ),
        {"n1", "n2", "n3", "n6"},
    ),
]


def make_node(node_id: str, text: str, vector: list[float], metadata: dict[str, Any], ref_doc: str) -> TextNode:
    """A text node with an embedding and a SOURCE relationship (so ``ref_doc_id`` is set)."""
    return TextNode(
        id_=node_id,
        text=text,
        embedding=vector,
        metadata=dict(metadata),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=ref_doc)},
    )


def corpus_nodes() -> list[TextNode]:
    """Fresh nodes of the corpus (LlamaIndex nodes are mutable)."""
    return [make_node(*row) for row in CORPUS]


async def call(store: BasePydanticVectorStore, name: str, use_async: bool, *args: Any, **kwargs: Any) -> Any:
    """Call ``store.<name>`` or, with ``use_async``, its async twin."""
    if use_async:
        return await getattr(store, ASYNC_TWINS[name])(*args, **kwargs)
    return getattr(store, name)(*args, **kwargs)


class BasePydanticVectorStoreConformance:
    """Conformance tests for a ``BasePydanticVectorStore``; subclasses provide the ``store`` fixture."""

    supports_get_nodes: ClassVar[bool] = True
    """``get_nodes`` / ``aget_nodes`` by ids and/or filters."""
    supports_delete_nodes: ClassVar[bool] = True
    supports_clear: ClassVar[bool] = True
    supports_mmr: ClassVar[bool] = True
    supports_doc_ids: ClassVar[bool] = True
    """``VectorStoreQuery.doc_ids`` restricts results to those source documents."""
    supports_node_ids: ClassVar[bool] = True
    empty_node_ids_mean_all: ClassVar[bool] = True
    """``node_ids=[]`` in a query is no restriction (Qdrant, Chroma, Postgres; ``as_retriever`` relies on it
    for stores with ``stores_text``); False where it means "no node" (``SimpleVectorStore``)."""
    supports_nested_filters: ClassVar[bool] = True
    supports_nested_metadata: ClassVar[bool] = True
    """Metadata values may be nested lists/dicts (``flat_metadata = False``)."""
    returns_nodes: ClassVar[bool] = True
    """Query results carry nodes with their text (``stores_text``)."""
    similarity_range: ClassVar[tuple[float, float] | None] = (0.0, 1.0)
    supported_operators: ClassVar[frozenset[FilterOperator]] = frozenset(FilterOperator)

    @pytest.fixture(params=[False, True], ids=["sync", "async"])
    def use_async(self, request: pytest.FixtureRequest) -> bool:
        return bool(request.param)

    def require(self, flag: str) -> None:
        if not getattr(self, flag):
            pytest.skip(f"{type(self).__name__}.{flag} is False")

    async def filled(self, store: BasePydanticVectorStore, use_async: bool) -> BasePydanticVectorStore:
        ids = await call(store, "add", use_async, corpus_nodes())
        assert ids == [row[0] for row in CORPUS]
        return store

    async def query_ids(self, store: BasePydanticVectorStore, use_async: bool, **kwargs: Any) -> list[str]:
        kwargs.setdefault("query_embedding", Q_FOOD)
        kwargs.setdefault("similarity_top_k", len(CORPUS))
        extra = kwargs.pop("extra", {})
        result = await call(store, "query", use_async, VectorStoreQuery(**kwargs), **extra)
        return list(result.ids or [])

    # -- shape ---------------------------------------------------------------------------------------------

    def test_is_a_pydantic_vector_store(self, store: BasePydanticVectorStore) -> None:
        assert isinstance(store, BasePydanticVectorStore)
        assert isinstance(store.stores_text, bool)
        assert store.stores_text == self.returns_nodes
        assert isinstance(type(store).class_name(), str)
        assert type(store).class_name() != "BaseComponent"

    # -- add / query -----------------------------------------------------------------------------------------

    async def test_query_empty_store(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        result = await call(store, "query", use_async, VectorStoreQuery(query_embedding=Q_FOOD, similarity_top_k=3))
        assert isinstance(result, VectorStoreQueryResult)
        assert not result.ids
        assert not result.nodes
        assert not result.similarities

    async def test_add_empty_list(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        assert await call(store, "add", use_async, []) == []

    async def test_query_order_and_top_k(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        await self.filled(store, use_async)
        result = await call(store, "query", use_async, VectorStoreQuery(query_embedding=Q_FOOD, similarity_top_k=3))
        assert result.ids == ["n1", "n2", "n6"]
        assert result.similarities is not None
        assert len(result.similarities) == 3
        assert result.similarities == sorted(result.similarities, reverse=True)
        assert result.similarities[0] > result.similarities[2]
        if self.similarity_range is not None:
            low, high = self.similarity_range
            assert all(low - 1e-6 <= s <= high + 1e-6 for s in result.similarities)
        if self.returns_nodes:
            assert result.nodes is not None
            assert [n.node_id for n in result.nodes] == result.ids
            assert [n.get_content() for n in result.nodes] == ["apple pie recipe", "apple tart recipe", "orange juice"]
            assert result.nodes[0].metadata == CORPUS[0][3]
            assert result.nodes[0].ref_doc_id == "doc-a"

    async def test_query_top_k_above_count(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        await self.filled(store, use_async)
        assert set(await self.query_ids(store, use_async, similarity_top_k=50)) == ALL

    async def test_add_same_id_upserts(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        await self.filled(store, use_async)
        replacement = make_node("n3", "apple crumble", [0.99, 0.1, 0.0, 0.0], {"topic": "food", "n": 7}, "doc-b")
        assert await call(store, "add", use_async, [replacement]) == ["n3"]
        ids = await self.query_ids(store, use_async, similarity_top_k=50)
        assert sorted(ids) == sorted(ALL)
        assert ids[:2] == ["n1", "n3"]
        if self.returns_nodes:
            result = await call(store, "query", use_async, VectorStoreQuery(query_embedding=Q_FOOD, similarity_top_k=2))
            assert result.nodes[1].get_content() == "apple crumble"
            assert result.nodes[1].metadata == {"topic": "food", "n": 7}

    # -- filters ---------------------------------------------------------------------------------------------

    @pytest.mark.parametrize(("name", "filters", "expected"), FILTERS, ids=[c[0] for c in FILTERS])
    async def test_query_filters(
        self,
        store: BasePydanticVectorStore,
        use_async: bool,
        name: str,
        filters: MetadataFilters,
        expected: set[str],
    ) -> None:
        used = {f.operator for f in filters.filters if isinstance(f, MetadataFilter)}
        if not used <= self.supported_operators:
            pytest.skip(f"{sorted(o.value for o in used - self.supported_operators)} not supported")
        await self.filled(store, use_async)
        assert set(await self.query_ids(store, use_async, filters=filters)) == expected

    @pytest.mark.parametrize(("name", "filters", "expected"), NESTED_FILTERS, ids=[c[0] for c in NESTED_FILTERS])
    async def test_query_nested_filters(
        self,
        store: BasePydanticVectorStore,
        use_async: bool,
        name: str,
        filters: MetadataFilters,
        expected: set[str],
    ) -> None:
        self.require("supports_nested_filters")
        await self.filled(store, use_async)
        assert set(await self.query_ids(store, use_async, filters=filters)) == expected

    async def test_filtered_query_returns_k_when_k_match(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        await self.filled(store, use_async)
        filters = MetadataFilters(filters=[_f("topic", FilterOperator.NE, "food")])
        assert len(await self.query_ids(store, use_async, filters=filters, similarity_top_k=3)) == 3

    async def test_query_doc_ids(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_doc_ids")
        await self.filled(store, use_async)
        assert set(await self.query_ids(store, use_async, doc_ids=["doc-b", "doc-c"])) == {"n3", "n4", "n5", "n6"}
        assert await self.query_ids(store, use_async, doc_ids=["no-such-doc"]) == []

    async def test_query_node_ids(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_node_ids")
        await self.filled(store, use_async)
        assert await self.query_ids(store, use_async, node_ids=["n6", "n2", "missing"]) == ["n2", "n6"]
        expected = ALL if self.empty_node_ids_mean_all else set()
        assert set(await self.query_ids(store, use_async, node_ids=[])) == expected

    async def test_query_node_ids_with_filters(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_node_ids")
        await self.filled(store, use_async)
        filters = MetadataFilters(filters=[_f("topic", FilterOperator.EQ, "food")])
        ids = await self.query_ids(store, use_async, node_ids=["n2", "n3", "n6"], filters=filters)
        assert ids == ["n2", "n6"]

    async def test_query_doc_ids_with_filters(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_doc_ids")
        await self.filled(store, use_async)
        filters = MetadataFilters(filters=[_f("n", FilterOperator.GT, 4)])
        assert set(await self.query_ids(store, use_async, doc_ids=["doc-b", "doc-c"], filters=filters)) == {"n5", "n6"}

    # -- MMR -------------------------------------------------------------------------------------------------

    async def test_mmr_pure_relevance_matches_default(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_mmr")
        await self.filled(store, use_async)
        ids = await self.query_ids(
            store, use_async, similarity_top_k=3, mode=VectorStoreQueryMode.MMR, extra={"mmr_threshold": 1.0}
        )
        assert ids == ["n1", "n2", "n6"]

    async def test_mmr_diversifies(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_mmr")
        await self.filled(store, use_async)
        ids = await self.query_ids(
            store, use_async, similarity_top_k=2, mode=VectorStoreQueryMode.MMR, extra={"mmr_threshold": 0.1}
        )
        assert len(ids) == 2
        assert ids[0] == "n1"
        assert ids[1] != "n2"  # the near-duplicate of n1 is passed over

    async def test_mmr_with_filters(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_mmr")
        await self.filled(store, use_async)
        filters = MetadataFilters(filters=[_f("topic", FilterOperator.NE, "food")])
        ids = await self.query_ids(
            store, use_async, similarity_top_k=2, mode=VectorStoreQueryMode.MMR, filters=filters,
            extra={"mmr_threshold": 0.5},
        )  # fmt: skip
        assert len(ids) == 2
        assert set(ids) <= {"n3", "n4", "n5"}

    # -- delete ----------------------------------------------------------------------------------------------

    async def test_delete_ref_doc(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        await self.filled(store, use_async)
        await call(store, "delete", use_async, "doc-a")
        assert set(await self.query_ids(store, use_async)) == ALL - {"n1", "n2"}

    async def test_delete_unknown_ref_doc_is_a_no_op(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        await self.filled(store, use_async)
        await call(store, "delete", use_async, "no-such-doc")
        assert set(await self.query_ids(store, use_async)) == ALL

    async def test_delete_ref_doc_on_empty_store(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        await call(store, "delete", use_async, "doc-a")
        assert await self.query_ids(store, use_async) == []

    async def test_delete_nodes_by_ids(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_delete_nodes")
        await self.filled(store, use_async)
        await call(store, "delete_nodes", use_async, ["n1", "n4", "missing"])
        assert set(await self.query_ids(store, use_async)) == ALL - {"n1", "n4"}

    async def test_delete_nodes_empty_list(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_delete_nodes")
        await self.filled(store, use_async)
        await call(store, "delete_nodes", use_async, [])
        assert set(await self.query_ids(store, use_async)) == ALL

    async def test_delete_nodes_by_filters(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_delete_nodes")
        await self.filled(store, use_async)
        filters = MetadataFilters(filters=[_f("topic", FilterOperator.EQ, "food")])
        await call(store, "delete_nodes", use_async, filters=filters)
        assert set(await self.query_ids(store, use_async)) == {"n3", "n4", "n5"}

    async def test_delete_nodes_ids_and_filters(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_delete_nodes")
        await self.filled(store, use_async)
        filters = MetadataFilters(filters=[_f("topic", FilterOperator.EQ, "food")])
        await call(store, "delete_nodes", use_async, ["n1", "n3"], filters)
        assert set(await self.query_ids(store, use_async)) == ALL - {"n1"}

    # -- get_nodes -------------------------------------------------------------------------------------------

    async def test_get_nodes_by_ids(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_get_nodes")
        await self.filled(store, use_async)
        nodes = await call(store, "get_nodes", use_async, ["n3", "missing", "n1"])
        assert [n.node_id for n in nodes] == ["n3", "n1"]
        assert nodes[0].get_content() == "car engine repair"
        assert nodes[0].metadata == CORPUS[2][3]
        assert nodes[0].ref_doc_id == "doc-b"
        assert nodes[0].relationships[NodeRelationship.SOURCE].node_id == "doc-b"

    async def test_get_nodes_unknown_ids(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_get_nodes")
        await self.filled(store, use_async)
        assert await call(store, "get_nodes", use_async, ["nope"]) == []

    async def test_get_nodes_by_filters(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_get_nodes")
        await self.filled(store, use_async)
        filters = MetadataFilters(filters=[_f("n", FilterOperator.GTE, 5)])
        nodes = await call(store, "get_nodes", use_async, filters=filters)
        assert {n.node_id for n in nodes} == {"n5", "n6"}

    async def test_get_nodes_ids_and_filters(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_get_nodes")
        await self.filled(store, use_async)
        filters = MetadataFilters(filters=[_f("topic", FilterOperator.EQ, "food")])
        nodes = await call(store, "get_nodes", use_async, ["n6", "n3", "n1"], filters)
        assert [n.node_id for n in nodes] == ["n6", "n1"]

    async def test_get_nodes_everything(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_get_nodes")
        assert await call(store, "get_nodes", use_async) == []
        await self.filled(store, use_async)
        assert {n.node_id for n in await call(store, "get_nodes", use_async)} == ALL

    async def test_metadata_round_trip(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_get_nodes")
        self.require("supports_nested_metadata")
        metadata = {
            "session_id": None,
            "sub_dicts": [{"role": "user", "content": "hi", "additional_kwargs": {}}],
            "score": 0.25,
            "unicode": "é ☃ 漢字",
        }
        node = make_node("m1", "hello there", [0.5, 0.5, 0.5, 0.5], metadata, "doc-m")
        await call(store, "add", use_async, [node])
        (got,) = await call(store, "get_nodes", use_async, ["m1"])
        assert got.metadata == metadata
        assert got.get_content() == "hello there"
        filters = MetadataFilters(filters=[_f("session_id", FilterOperator.IS_EMPTY, None)])
        assert [n.node_id for n in await call(store, "get_nodes", use_async, filters=filters)] == ["m1"]

    # -- clear -----------------------------------------------------------------------------------------------

    async def test_clear(self, store: BasePydanticVectorStore, use_async: bool) -> None:
        self.require("supports_clear")
        await self.filled(store, use_async)
        await call(store, "clear", use_async)
        assert await self.query_ids(store, use_async) == []
        await call(store, "clear", use_async)  # clearing an empty store is fine
        await self.filled(store, use_async)  # and the store is usable again
        assert set(await self.query_ids(store, use_async)) == ALL


def node_ids(nodes: list[BaseNode]) -> list[str]:
    """The ids of ``nodes`` in order."""
    return [n.node_id for n in nodes]
