"""LlamaIndex filters through VecVaultVectorStore: the shared table, and a differential test against
llama-index-core's reference ``build_metadata_filter_fn`` on hundreds of random records.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn
from tests.adapters.llama_index_adapter.conformance import call
from tests.filter_cases import ALL_IDS, DOCUMENTS, FILTER_CASES, LLAMA_FILTER_CASES, FilterCase

from llama_index.vector_stores.vecvault import VecVaultVectorStore, to_vecvault_filter
from vecvault import UnsupportedFilterError, Vault
from vecvault.filters import MAX_FILTER_DEPTH, And, Compare, Not, Or

# -- the shared table ----------------------------------------------------------------------------------------


def _doc_nodes() -> list[TextNode]:
    rng = random.Random(3)
    return [
        TextNode(
            id_=doc.id, text=doc.text, metadata=dict(doc.metadata), embedding=[rng.uniform(-1, 1) for _ in range(4)]
        )
        for doc in DOCUMENTS
    ]


@pytest.fixture
def table_store(li_vault: Vault) -> Iterator[VecVaultVectorStore]:
    store = VecVaultVectorStore(vault=li_vault, collection_name="table")
    try:
        store.add(_doc_nodes())
        yield store
    finally:
        store.close()


def _by_name(case: FilterCase) -> str:
    return case.name


def test_table_has_llama_cases() -> None:
    assert len(LLAMA_FILTER_CASES) >= 20


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("case", LLAMA_FILTER_CASES, ids=_by_name)
async def test_llama_case_query(table_store: VecVaultVectorStore, case: FilterCase, use_async: bool) -> None:
    assert case.llama is not None
    filters = MetadataFilters.model_validate(case.llama)
    query = VectorStoreQuery(query_embedding=[0.1, 0.2, 0.3, 0.4], similarity_top_k=len(DOCUMENTS), filters=filters)
    result = await call(table_store, "query", use_async, query)
    assert set(result.ids) == case.expected_ids
    assert {node.node_id for node in result.nodes} == case.expected_ids
    nodes = await call(table_store, "get_nodes", use_async, None, filters)
    assert {node.node_id for node in nodes} == case.expected_ids


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("case", LLAMA_FILTER_CASES, ids=_by_name)
async def test_llama_case_delete_nodes(table_store: VecVaultVectorStore, case: FilterCase, use_async: bool) -> None:
    filters = MetadataFilters.model_validate(case.llama)
    if not filters.filters:
        return
    await call(table_store, "delete_nodes", use_async, None, filters)
    remaining = {node.node_id for node in await call(table_store, "get_nodes", use_async)}
    assert remaining == ALL_IDS - case.expected_ids


@pytest.mark.parametrize("case", LLAMA_FILTER_CASES, ids=_by_name)
def test_llama_case_matches_reference(case: FilterCase) -> None:
    """The table's expectations are LlamaIndex's own: its reference evaluator agrees on every llama case."""
    if case.llama_reference_differs:
        pytest.skip(case.llama_reference_differs)
    filters = MetadataFilters.model_validate(case.llama)
    assert {doc.id for doc in DOCUMENTS if reference_match(filters, doc.metadata)} == case.expected_ids


@pytest.mark.parametrize("case", FILTER_CASES, ids=_by_name)
def test_mongo_case_on_adapter_layout(table_store: VecVaultVectorStore, case: FilterCase) -> None:
    """Every table case, Mongo syntax, on the records exactly as the adapter stores them (the core parse path).

    The extra keys LlamaIndex adds to the sealed metadata (``_node_content``, ``doc_id`` ...) change nothing.
    """
    hits = table_store.collection.search([0.1, 0.2, 0.3, 0.4], k=len(DOCUMENTS), filter=case.mongo)
    assert {hit.id for hit in hits} == case.expected_ids


# -- translation ---------------------------------------------------------------------------------------------


def test_translation_of_every_operator() -> None:
    values: dict[FilterOperator, Any] = {
        FilterOperator.IN: ["x"],
        FilterOperator.NIN: ["x"],
        FilterOperator.ANY: ["x"],
        FilterOperator.ALL: ["x"],
        FilterOperator.IS_EMPTY: None,
    }
    for operator in FilterOperator:
        value = values.get(operator, "x")
        parsed = to_vecvault_filter(MetadataFilters(filters=[MetadataFilter(key="k", operator=operator, value=value)]))
        assert isinstance(parsed, Compare)
        assert parsed.field == "k"
        if operator == FilterOperator.IS_EMPTY:
            assert (parsed.op, parsed.value) == ("is_empty", True)
        else:
            assert parsed.op == operator.name.lower()


def test_translation_of_conditions_and_nesting() -> None:
    a = MetadataFilter(key="a", value=1)
    b = MetadataFilter(key="b", value=2, operator=FilterOperator.GT)
    assert to_vecvault_filter(None) is None
    assert to_vecvault_filter(MetadataFilters(filters=[])) is None
    assert to_vecvault_filter(MetadataFilters(filters=[a, b])) == And((Compare("a", "eq", 1), Compare("b", "gt", 2)))
    assert to_vecvault_filter(MetadataFilters(filters=[a, b], condition=FilterCondition.OR)) == Or(
        (Compare("a", "eq", 1), Compare("b", "gt", 2))
    )
    assert to_vecvault_filter(MetadataFilters(filters=[a, b], condition=FilterCondition.NOT)) == Not(
        Or((Compare("a", "eq", 1), Compare("b", "gt", 2)))
    )
    nested = MetadataFilters(
        filters=[MetadataFilters(filters=[a], condition=FilterCondition.NOT), b], condition=FilterCondition.OR
    )
    assert to_vecvault_filter(nested) == Or((Not(Compare("a", "eq", 1)), Compare("b", "gt", 2)))


@pytest.mark.parametrize(
    "bad",
    [
        MetadataFilters(filters=[MetadataFilter(key="a", value=None)]),
        MetadataFilters(filters=[MetadataFilter(key="a", value=None, operator=FilterOperator.NE)]),
        MetadataFilters(filters=[MetadataFilter(key="a", value="x", operator=FilterOperator.IN)]),
        MetadataFilters(filters=[MetadataFilter(key="a", value=[1], operator=FilterOperator.GT)]),
        MetadataFilters(filters=[MetadataFilter(key="a", value=1, operator=FilterOperator.TEXT_MATCH)]),
        MetadataFilters(filters=[MetadataFilters(filters=[])]),
    ],
    ids=["eq_none", "ne_none", "in_scalar", "gt_list", "text_match_int", "empty_nested_group"],
)
def test_bad_filters_raise_typed_errors(li_store: VecVaultVectorStore, bad: MetadataFilters) -> None:
    with pytest.raises(UnsupportedFilterError):
        li_store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=1, filters=bad))


def test_not_metadata_filters_raises() -> None:
    with pytest.raises(UnsupportedFilterError, match="MetadataFilters"):
        to_vecvault_filter({"a": 1})  # type: ignore[arg-type]


def _nested_groups(depth: int, condition: FilterCondition) -> MetadataFilters:
    """``depth`` groups, each holding the next group (or, innermost, ``a == 1``) and ``b == 2``."""
    group = MetadataFilters(
        filters=[MetadataFilter(key="a", value=1), MetadataFilter(key="b", value=2)], condition=condition
    )
    for _ in range(depth - 1):
        group = MetadataFilters(filters=[group, MetadataFilter(key="b", value=2)], condition=condition)
    return group


@pytest.mark.parametrize("condition", list(FilterCondition), ids=lambda c: c.value)
@pytest.mark.parametrize("depth", [MAX_FILTER_DEPTH + 1, 400, 5000])
def test_deep_filter_groups_raise_a_typed_error(
    li_store: VecVaultVectorStore, depth: int, condition: FilterCondition
) -> None:
    filters = _nested_groups(depth, condition)
    with pytest.raises(UnsupportedFilterError, match="MAX_FILTER_DEPTH"):
        to_vecvault_filter(filters)
    with pytest.raises(UnsupportedFilterError, match="MAX_FILTER_DEPTH"):
        li_store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=1, filters=filters))
    with pytest.raises(UnsupportedFilterError, match="MAX_FILTER_DEPTH"):
        li_store.get_nodes(filters=filters)


def test_filter_groups_may_nest_to_the_depth_limit(li_store: VecVaultVectorStore) -> None:
    li_store.add([TextNode(id_="n", text="x", metadata={"a": 1, "b": 2}, embedding=[1.0, 0.0])])
    for condition, depth in ((FilterCondition.AND, MAX_FILTER_DEPTH), (FilterCondition.OR, MAX_FILTER_DEPTH)):
        filters = _nested_groups(depth, condition)
        query = VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=1, filters=filters)
        assert li_store.query(query).ids == ["n"]
        assert [node.node_id for node in li_store.get_nodes(filters=filters)] == ["n"]
    # A NOT group of several filters is Not(Or(...)): two levels, so half as many of them fit.
    filters = _nested_groups(MAX_FILTER_DEPTH // 2, FilterCondition.NOT)
    assert to_vecvault_filter(filters) is not None
    with pytest.raises(UnsupportedFilterError, match="MAX_FILTER_DEPTH"):
        to_vecvault_filter(_nested_groups(MAX_FILTER_DEPTH // 2 + 1, FilterCondition.NOT))


# -- differential test against the reference evaluator -------------------------------------------------------


def reference_match(filters: MetadataFilters, metadata: dict[str, Any]) -> bool:
    """LlamaIndex's ``build_metadata_filter_fn``, applied leaf by leaf so that nesting works.

    The reference rejects nested groups and raises ``TypeError`` mid-query on mismatched types; vecvault
    defines both (nesting composes, a type mismatch is a non-match), so a leaf that raises counts as False.
    """
    results: list[bool] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            results.append(reference_match(item, metadata))
            continue
        fn = build_metadata_filter_fn(lambda _node_id: metadata, MetadataFilters(filters=[item]))
        try:
            results.append(bool(fn("node")))
        except TypeError:
            results.append(False)
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return all(results)
    if condition == FilterCondition.OR:
        return any(results)
    return not any(results)


KEYS = ("a", "b", "tags")
STRINGS = ("", "a", "ab", "B", "ba", "abc", "Ab")
INTS = (-2, 0, 1, 2, 3)
FLOATS = (-0.5, 0.0, 1.0, 1.5, 2.5)
_MISSING = object()


def random_value(rng: random.Random) -> Any:
    kind = rng.randrange(8)
    if kind == 0:
        return _MISSING
    if kind == 1:
        return None
    if kind == 2:
        return rng.choice(INTS)
    if kind == 3:
        return rng.choice(FLOATS)
    if kind == 4:
        return rng.choice(STRINGS)
    if kind == 5:
        return rng.sample(STRINGS, rng.randrange(0, 4))
    if kind == 6:
        return rng.sample(INTS, rng.randrange(0, 3))
    return [rng.choice(STRINGS)]


def random_metadata(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in KEYS:
        value = random_value(rng)
        if value is not _MISSING:
            out[key] = value
    return out


def _scalar(rng: random.Random) -> Any:
    return rng.choice([*STRINGS, *INTS, *FLOATS])


def _homogeneous_list(rng: random.Random) -> list[Any]:
    pool = rng.choice([STRINGS, INTS, FLOATS])
    return rng.sample(pool, rng.randrange(0, 3))


def random_leaf(rng: random.Random) -> MetadataFilter:
    operator = rng.choice(list(FilterOperator))
    value: Any
    if operator in (FilterOperator.IN, FilterOperator.NIN, FilterOperator.ANY, FilterOperator.ALL):
        value = _homogeneous_list(rng)
    elif operator in (FilterOperator.TEXT_MATCH, FilterOperator.TEXT_MATCH_INSENSITIVE):
        value = rng.choice(STRINGS)
    elif operator == FilterOperator.IS_EMPTY:
        value = None
    elif operator in (FilterOperator.EQ, FilterOperator.NE, FilterOperator.CONTAINS) and rng.random() < 0.2:
        value = _homogeneous_list(rng)
    else:
        value = _scalar(rng)
    return MetadataFilter(key=rng.choice(KEYS), operator=operator, value=value)


def random_filters(rng: random.Random, depth: int = 0) -> MetadataFilters:
    children: list[MetadataFilter | MetadataFilters] = []
    for _ in range(rng.randint(1, 3)):
        if depth < 2 and rng.random() < 0.3:
            children.append(random_filters(rng, depth + 1))
        else:
            children.append(random_leaf(rng))
    return MetadataFilters(filters=children, condition=rng.choice(list(FilterCondition)))


@pytest.fixture(scope="module")
def random_records() -> list[dict[str, Any]]:
    rng = random.Random(20240611)
    return [random_metadata(rng) for _ in range(300)]


@pytest.fixture
def random_store(li_vault: Vault, random_records: list[dict[str, Any]]) -> Iterator[VecVaultVectorStore]:
    rng = random.Random(5)
    store = VecVaultVectorStore(vault=li_vault, collection_name="random")
    nodes = [
        TextNode(id_=f"r{i:03d}", text=f"record {i}", metadata=md, embedding=[rng.uniform(-1, 1) for _ in range(4)])
        for i, md in enumerate(random_records)
    ]
    try:
        store.add(nodes)
        yield store
    finally:
        store.close()


def test_differential_against_reference(
    random_store: VecVaultVectorStore, random_records: list[dict[str, Any]]
) -> None:
    """300 random records x 250 random (nested) filters: the store and the reference agree on every record."""
    rng = random.Random(99)
    nonempty = 0
    for _ in range(250):
        filters = random_filters(rng)
        expected = {f"r{i:03d}" for i, md in enumerate(random_records) if reference_match(filters, md)}
        got = {node.node_id for node in random_store.get_nodes(filters=filters)}
        assert got == expected, filters.model_dump_json()
        nonempty += 0 < len(expected) < len(random_records)
    assert nonempty > 100  # the filters discriminate: most neither match everything nor nothing


async def test_differential_query_async(
    random_store: VecVaultVectorStore, random_records: list[dict[str, Any]]
) -> None:
    rng = random.Random(7)
    for _ in range(30):
        filters = random_filters(rng)
        expected = {f"r{i:03d}" for i, md in enumerate(random_records) if reference_match(filters, md)}
        query = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0, 0.0], similarity_top_k=300, filters=filters)
        assert set((await random_store.aquery(query)).ids or []) == expected


# -- where vecvault deliberately differs from the reference ----------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "leaf", "reference", "vecvault"),
    [
        ({"flag": True}, MetadataFilter(key="flag", value=1), True, False),  # JSON: bool is not a number
        ({"flag": False}, MetadataFilter(key="flag", value=[0], operator=FilterOperator.IN), True, False),
        ({"flag": True}, MetadataFilter(key="flag", value=1, operator=FilterOperator.NE), False, True),
        ({"d": {"k": 1}}, MetadataFilter(key="d", value="k", operator=FilterOperator.CONTAINS), True, False),
        ({"s": "abc"}, MetadataFilter(key="s", value=3, operator=FilterOperator.GT), None, False),  # ref raises
    ],
    ids=["bool_eq_int", "bool_in_int", "bool_ne_int", "contains_dict_key", "gt_type_mismatch"],
)
def test_documented_differences(
    li_store: VecVaultVectorStore,
    metadata: dict[str, Any],
    leaf: MetadataFilter,
    reference: bool | None,
    vecvault: bool,
) -> None:
    filters = MetadataFilters(filters=[leaf])
    fn = build_metadata_filter_fn(lambda _node_id: metadata, filters)
    if reference is None:
        with pytest.raises(TypeError):
            fn("node")
    else:
        assert fn("node") is reference
    li_store.add([TextNode(id_="x", text="x", metadata=metadata, embedding=[1.0, 0.0])])
    assert bool(li_store.get_nodes(filters=filters)) is vecvault
