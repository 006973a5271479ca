"""Property and unit tests for vecvault.filters: parser, reference evaluator and MetadataTable.mask."""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from vecvault.errors import UnsupportedFilterError
from vecvault.filters import (
    COMPARISON_OPERATORS,
    DICT_OPERATORS,
    MAX_FILTER_DEPTH,
    And,
    Compare,
    Filter,
    MetadataTable,
    Not,
    Or,
    evaluate,
    parse_filter,
)
from vecvault.records import MAX_METADATA_DEPTH

PROPERTY = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
FIELDS = ["a", "b", "c", "d.e", "a.k", "b.l.k"]  # dotted: literal keys, and paths into dicts

# --------------------------------------------------------------------------------------------------
# Strategies: JSON-ish metadata with every awkward value, and filters that hit it

STRINGS = st.one_of(
    st.sampled_from(["", "x", "X", "ab", "aB", "abc", "a%c", "a_c", "b\\", "é", "É", "\x00", "x\x00", "1", "10"]),
    st.text(max_size=3),
)
NUMBERS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([2**53, 2**53 + 1, -(2**60), 10**30, 10**400]),
    st.floats(-3, 3),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 2.0**53, math.inf, -math.inf, math.nan]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
JSON = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(["k", "l"]), kids, max_size=2),
    max_leaves=6,
)
EXOTIC = st.sampled_from(
    [
        datetime(2020, 1, 1, tzinfo=timezone.utc),
        np.int64(3),
        np.float64(2.0),
        Decimal("1"),
        (1, "x"),
        b"x",
        {1, 2},
    ]
)
VALUES = st.one_of(JSON, EXOTIC)
METADATA = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4)
JSON_METADATA = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4)

NON_NONE_JSON = JSON.filter(lambda v: v is not None)
PATTERNS = st.one_of(STRINGS, st.sampled_from(["%", "_", "a%", "%b", "_b%", "%\\%", "\\_", "A%", "%c"]))
ORDERABLE = st.one_of(NUMBERS, STRINGS)
OPERAND_LISTS = st.lists(NON_NONE_JSON, max_size=3)

OPERANDS: dict[str, st.SearchStrategy[Any]] = {
    "eq": NON_NONE_JSON,
    "ne": NON_NONE_JSON,
    "contains": NON_NONE_JSON,
    "gt": ORDERABLE,
    "gte": ORDERABLE,
    "lt": ORDERABLE,
    "lte": ORDERABLE,
    "in": OPERAND_LISTS,
    "nin": OPERAND_LISTS,
    "any": OPERAND_LISTS,
    "all": OPERAND_LISTS,
    "text_match": PATTERNS,
    "text_match_insensitive": PATTERNS,
    "like": PATTERNS,
    "ilike": PATTERNS,
    "exists": st.booleans(),
    "is_empty": st.booleans(),
}
assert set(OPERANDS) == set(COMPARISON_OPERATORS)


@st.composite
def compares(draw: st.DrawFn, ops: tuple[str, ...] = tuple(OPERANDS)) -> Compare:
    op = draw(st.sampled_from(ops))
    return Compare(draw(st.sampled_from(FIELDS)), op, draw(OPERANDS[op]))


def filters_of(leaf: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.lists(kids, min_size=1, max_size=3).map(lambda c: And(tuple(c))),
            st.lists(kids, min_size=1, max_size=3).map(lambda c: Or(tuple(c))),
            kids.map(Not),
        ),
        max_leaves=6,
    )


FILTERS = filters_of(compares())


def expected(flt: Filter, rows: list[dict[str, Any]]) -> list[bool]:
    return [evaluate(flt, md) for md in rows]


# --------------------------------------------------------------------------------------------------
# MetadataTable.mask agrees with evaluate


@PROPERTY
@given(rows=st.lists(METADATA, max_size=40), flts=st.lists(FILTERS, min_size=1, max_size=6))
def test_mask_matches_evaluate(rows: list[dict[str, Any]], flts: list[Filter]) -> None:
    table = MetadataTable(rows)
    for flt in flts:
        mask = table.mask(flt)
        assert mask.dtype == np.bool_
        assert mask.tolist() == expected(flt, rows)


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(METADATA, min_size=100, max_size=300), flts=st.lists(FILTERS, min_size=5, max_size=10))
def test_mask_matches_evaluate_hundreds_of_rows(rows: list[dict[str, Any]], flts: list[Filter]) -> None:
    table = MetadataTable(rows)
    for flt in flts:
        assert table.mask(flt).tolist() == expected(flt, rows)


WRITES = st.one_of(
    st.tuples(st.just("append"), METADATA),
    st.tuples(st.just("replace"), st.integers(0, 10**6), METADATA),
    st.tuples(st.just("swap_remove"), st.integers(0, 10**6)),
    st.tuples(st.just("clear")),
    st.tuples(st.just("mask"), FILTERS),
)


@PROPERTY
@given(
    rows=st.lists(METADATA, max_size=20),
    flts=st.lists(FILTERS, min_size=1, max_size=4),
    writes=st.lists(WRITES, max_size=40),
)
def test_mask_matches_evaluate_after_writes(
    rows: list[dict[str, Any]], flts: list[Filter], writes: list[tuple[Any, ...]]
) -> None:
    table = MetadataTable(rows)
    model = list(rows)
    for flt in flts:  # build the per-field columns first, so the writes must maintain them
        table.mask(flt)
    for write in writes:
        kind = write[0]
        if kind == "append":
            table.append(write[1])
            model.append(write[1])
        elif kind == "replace" and model:
            row = write[1] % len(model)
            table.replace(row, write[2])
            model[row] = write[2]
        elif kind == "swap_remove" and model:
            row = write[1] % len(model)
            table.swap_remove(row)
            last = model.pop()
            if row < len(model):
                model[row] = last
        elif kind == "clear" and len(writes) % 5 == 0:
            table.clear()
            model.clear()
        elif kind == "mask":
            flts.append(write[1])
            assert table.mask(write[1]).tolist() == expected(write[1], model)
        assert len(table) == len(model)
    for i, md in enumerate(model):
        assert dict(table.get(i)) == md
    for flt in flts:
        assert table.mask(flt).tolist() == expected(flt, model)


def test_rebuilds_bloated_field_index() -> None:
    table = MetadataTable([{"a": 0}, {"a": "keep"}])
    flt = Compare("a", "eq", 2999)
    table.mask(flt)
    for i in range(3000):  # every replace adds a distinct value; stale ones trigger a rebuild
        table.replace(0, {"a": i})
    assert table.mask(flt).tolist() == [True, False]
    assert table.mask(Compare("a", "gt", 10)).tolist() == [True, False]
    assert table.mask(Compare("a", "eq", "keep")).tolist() == [False, True]


def test_mask_none_empty_and_fresh() -> None:
    assert MetadataTable().mask(Compare("a", "eq", 1)).shape == (0,)
    assert MetadataTable().mask(None).shape == (0,)
    table = MetadataTable([{"a": 1}, {"a": 2}, {}])
    assert table.mask(None).tolist() == [True, True, True]
    for flt in [Compare("a", "eq", 1), Compare("a", "exists", True), Compare("a", "gt", 1)]:
        first = table.mask(flt)
        before = first.tolist()
        first[:] = ~first
        assert table.mask(flt).tolist() == before


def test_table_rows_are_copied_and_read_only() -> None:
    md = {"a": 1}
    table = MetadataTable()
    table.append(md)
    md["a"] = 2
    assert table.get(0) == {"a": 1}
    with pytest.raises(TypeError):
        table.get(0)["a"] = 3  # type: ignore[index]
    assert table.mask(Compare("a", "eq", 1)).tolist() == [True]


@pytest.mark.parametrize("method", ["get", "replace", "swap_remove"])
@pytest.mark.parametrize("row", [-1, 2, 5])
def test_row_out_of_range(method: str, row: int) -> None:
    table = MetadataTable([{"a": 1}, {"a": 2}])
    args: tuple[Any, ...] = (row, {}) if method == "replace" else (row,)
    with pytest.raises(IndexError, match="out of range"):
        getattr(table, method)(*args)
    assert len(table) == 2


# --------------------------------------------------------------------------------------------------
# evaluate never raises, and agrees with an independent brute-force reference


@PROPERTY
@given(md=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4), flt=FILTERS)
def test_evaluate_never_raises(md: dict[str, Any], flt: Filter) -> None:
    assert evaluate(flt, md) in (True, False)


def _canon(value: Any) -> Any:
    """Independent canonical form: exact rationals for numbers, tagged bools, tuples for lists."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return ("nan", object())  # equal to nothing, itself included
        if isinstance(value, float) and math.isinf(value):
            return ("num", value)
        return ("num", Fraction(value))
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_canon(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _canon(v)) for k, v in value.items())))
    if value is None:
        return ("null",)
    return ("exotic", object())


def _ref_order(stored: Any, value: Any) -> int | None:
    """-1/0/1 comparison of two comparable values, or None when they are not comparable."""
    if isinstance(stored, str) and isinstance(value, str):
        return (stored > value) - (stored < value)
    nums = []
    for v in (stored, value):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
            return None
        nums.append(v if isinstance(v, float) and math.isinf(v) else Fraction(v))
    a, b = nums
    return (a > b) - (a < b)


def _ref_lookup(md: Any, field: str) -> tuple[bool, Any]:
    """(found, value): the literal key first, else split at the first dot into a nested dict."""
    if field in md:
        return True, md[field]
    head, dot, rest = field.partition(".")
    if dot and isinstance(md.get(head), dict):
        return _ref_lookup(md[head], rest)
    return False, None


def reference(md: dict[str, Any], c: Compare) -> bool:
    found, stored = _ref_lookup(md, c.field)
    present = stored is not None
    if c.op == "exists":  # the key is there, even holding None (Mongo, PGVector)
        return found is c.value
    if c.op == "is_empty":
        return (not present or (stored in ("", []) and not isinstance(stored, bool))) is c.value
    if c.op in ("eq", "ne"):
        equal = present and _canon(stored) == _canon(c.value)
        return equal if c.op == "eq" else not equal
    if c.op in ("in", "nin"):
        member = present and any(_canon(stored) == _canon(v) for v in c.value)
        return member if c.op == "in" else not member
    order = _ref_order(stored, c.value) if present else None
    if order is None:
        return False
    return {"gt": order > 0, "gte": order >= 0, "lt": order < 0, "lte": order <= 0}[c.op]


REFERENCE_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "exists", "is_empty")


@PROPERTY
@given(rows=st.lists(JSON_METADATA, max_size=30), c=compares(REFERENCE_OPS))
def test_against_brute_force_reference(rows: list[dict[str, Any]], c: Compare) -> None:
    want = [reference(md, c) for md in rows]
    assert expected(c, rows) == want
    assert MetadataTable(rows).mask(c).tolist() == want


def _like_reference(text: str, pattern: str, *, fold: bool) -> bool:
    """LIKE by dynamic programming over (pattern position, text position), independent of regexes."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            tokens.append(("lit", pattern[i + 1] if i + 1 < len(pattern) else "\\"))
            i += 2
            continue
        tokens.append(("any", "") if ch == "%" else ("one", "") if ch == "_" else ("lit", ch))
        i += 1

    def same(a: str, b: str) -> bool:
        return a == b or (fold and re.fullmatch(re.escape(a), b, re.IGNORECASE) is not None)

    reach = {0}
    for kind, lit in tokens:
        nxt: set[int] = set()
        for pos in reach:
            if kind == "any":
                nxt.update(range(pos, len(text) + 1))
            elif pos < len(text) and (kind == "one" or same(lit, text[pos])):
                nxt.add(pos + 1)
        reach = nxt
    return len(text) in reach


@PROPERTY
@given(text=STRINGS, pattern=PATTERNS)
def test_like_against_reference(text: str, pattern: str) -> None:
    md = {"a": text}
    assert evaluate(Compare("a", "like", pattern), md) == _like_reference(text, pattern, fold=False)
    assert evaluate(Compare("a", "ilike", pattern), md) == _like_reference(text, pattern, fold=True)


def _like_by_regex(text: str, pattern: str, *, fold: bool) -> bool:
    """LIKE as the direct regex translation (``%`` -> ``.*``, ``_`` -> ``.``): the old matcher, exponential."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        else:
            out.append({"%": ".*", "_": "."}.get(ch, re.escape(ch)))
    return re.fullmatch("".join(out), text, re.DOTALL | (re.IGNORECASE if fold else 0)) is not None


# Letters whose case rules differ between str.lower() and re.IGNORECASE (dotted and dotless i, long s,
# Kelvin sign, sharp s, titlecase digraphs): ilike must keep re's one-character-at-a-time folding.
FOLDING = "iI\u0130\u0131sS\u017fkK\u212a\u00df\u1e9e\u01c4\u01c5\u01c6"
# Patterns built from tokens, so that each one is also a valid SQLite LIKE pattern with ESCAPE '\\'.
LIKE_TOKENS = st.sampled_from(["a", "b", "A", "\n", "%", "%", "_", "\\%", "\\_", "\\\\", "\\a"])
LIKE_PATTERNS = st.lists(LIKE_TOKENS, max_size=10).map("".join)
LIKE_TEXTS = st.text(alphabet="abAB%_\\\n", max_size=14)


@PROPERTY
@given(
    text=LIKE_TEXTS | st.text(alphabet="a%_" + FOLDING, max_size=8),
    pattern=LIKE_PATTERNS | st.text(alphabet="ab%_\\", max_size=8) | st.text(alphabet="a%_\\" + FOLDING, max_size=6),
)
def test_like_against_regex_translation(text: str, pattern: str) -> None:
    md = {"a": text}
    assert evaluate(Compare("a", "like", pattern), md) == _like_by_regex(text, pattern, fold=False)
    assert evaluate(Compare("a", "ilike", pattern), md) == _like_by_regex(text, pattern, fold=True)


@pytest.fixture(scope="module")
def sqlite_like() -> Iterator[sqlite3.Connection]:
    con = sqlite3.connect(":memory:")
    try:
        yield con
    finally:
        con.close()


@PROPERTY
@given(texts=st.lists(LIKE_TEXTS, min_size=1, max_size=8), pattern=LIKE_PATTERNS)
def test_like_against_sqlite(sqlite_like: sqlite3.Connection, texts: list[str], pattern: str) -> None:
    """SQLite's own LIKE with ESCAPE '\\': case-insensitive for ASCII, case-sensitive under the pragma."""
    table = MetadataTable([{"a": t} for t in texts])
    for op, case_sensitive in (("ilike", "OFF"), ("like", "ON")):
        sqlite_like.execute(f"PRAGMA case_sensitive_like = {case_sensitive}")
        query = "SELECT ? LIKE ? ESCAPE '\\'"
        want = [bool(sqlite_like.execute(query, (t, pattern)).fetchone()[0]) for t in texts]
        assert [evaluate(Compare("a", op, pattern), {"a": t}) for t in texts] == want
        assert table.mask(Compare("a", op, pattern)).tolist() == want


@pytest.mark.timeout(10)
@pytest.mark.parametrize("size", [64, 10_000])
@pytest.mark.parametrize("op", ["like", "ilike"])
def test_like_is_not_exponential(op: str, size: int) -> None:
    """The report: ``'%a' * 8 + '%b'`` against 64 characters took 89 s under the vault lock."""
    rows = [{"t": "a" * size}, {"t": "a" * (size - 1) + "b"}, {"t": "A" * (size - 1) + "B"}]
    for pattern in ("%a" * 8 + "%b", "%_a" * 8 + "%_b", "%a%" * 8 + "b"):
        want = [False, True, op == "ilike"]
        assert [evaluate(Compare("t", op, pattern), md) for md in rows] == want
        assert MetadataTable(rows).mask(Compare("t", op, pattern)).tolist() == want


@PROPERTY
@given(md=JSON_METADATA, flt=FILTERS)
def test_connectives_are_boolean_logic(md: dict[str, Any], flt: Filter) -> None:
    value = evaluate(flt, md)
    assert evaluate(Not(flt), md) is (not value)
    assert evaluate(And((flt, Not(flt))), md) is False
    assert evaluate(Or((flt, Not(flt))), md) is True


# --------------------------------------------------------------------------------------------------
# LlamaIndex: each FilterOperator maps onto the AST op of the same name, with the same answers


LLAMA_VALUES = st.one_of(st.none(), st.integers(-3, 3), st.floats(-3, 3), STRINGS)
LLAMA_METADATA = st.dictionaries(
    st.sampled_from(FIELDS), st.one_of(LLAMA_VALUES, st.lists(LLAMA_VALUES, max_size=3)), max_size=4
)
LLAMA_OPERANDS = st.one_of(
    st.integers(-3, 3),
    st.floats(-3, 3),
    STRINGS,
    st.lists(st.integers(-3, 3), max_size=3),
    st.lists(STRINGS, max_size=3),
)


@PROPERTY
@given(
    rows=st.lists(LLAMA_METADATA, min_size=1, max_size=20),
    specs=st.lists(st.tuples(st.sampled_from(FIELDS), st.integers(0, 13), LLAMA_OPERANDS), min_size=1, max_size=3),
    condition=st.sampled_from(["and", "or", "not"]),
)
def test_agrees_with_llama_index_reference(
    rows: list[dict[str, Any]], specs: list[tuple[str, int, Any]], condition: str
) -> None:
    types = pytest.importorskip("llama_index.core.vector_stores.types")
    utils = pytest.importorskip("llama_index.core.vector_stores.utils")
    operators = list(types.FilterOperator)
    llama_filters = []
    ours: list[Filter] = []
    for field, op_index, operand in specs:
        operator = operators[op_index]
        op = operator.name.lower()
        is_list = isinstance(operand, list)
        assume(is_list == (op in ("in", "nin", "any", "all")) or op == "is_empty")
        assume(op not in ("gt", "gte", "lt", "lte") or not is_list)
        assume(op not in ("text_match", "text_match_insensitive") or isinstance(operand, str))
        llama_filters.append(types.MetadataFilter(key=field, operator=operator, value=operand))
        ours.append(Compare(field, op, True if op == "is_empty" else operand))
    filters = types.MetadataFilters(filters=llama_filters, condition=condition)
    node: Filter = {"and": And, "or": Or}.get(condition, lambda c: Not(Or(c)))(tuple(ours))
    fn = utils.build_metadata_filter_fn(lambda i: rows[int(i)], filters)
    table_mask = MetadataTable(rows).mask(node)
    compared = 0
    for i, md in enumerate(rows):
        try:
            theirs = fn(str(i))
        except TypeError:  # LlamaIndex raises on mixed types; vecvault answers "no match"
            continue
        assert evaluate(node, md) is theirs, (md, node)
        assert bool(table_mask[i]) is theirs
        compared += 1
    event(f"records compared with LlamaIndex: {min(compared, 5)}{'+' if compared >= 5 else ''}")


# --------------------------------------------------------------------------------------------------
# The dict parser


def to_mongo(node: Filter) -> dict[str, Any]:
    if isinstance(node, Compare):
        value = list(node.value) if isinstance(node.value, tuple) else node.value
        return {node.field: {f"${node.op}": value}}
    if isinstance(node, And):
        return {"$and": [to_mongo(c) for c in node.children]}
    if isinstance(node, Or):
        return {"$or": [to_mongo(c) for c in node.children]}
    return {"$not": to_mongo(node.child)}


@PROPERTY
@given(rows=st.lists(JSON_METADATA, max_size=20), flt=FILTERS)
def test_parse_of_dict_form_means_the_same(rows: list[dict[str, Any]], flt: Filter) -> None:
    parsed = parse_filter(to_mongo(flt))
    assert parsed is not None
    assert expected(parsed, rows) == expected(flt, rows)


def test_parse_shapes() -> None:
    a_ge_1 = Compare("a", "gte", 1)
    assert parse_filter(None) is None
    assert parse_filter({}) is None
    assert parse_filter(a_ge_1) is a_ge_1
    assert parse_filter({"a": 1}) == Compare("a", "eq", 1)
    assert parse_filter({"a": {"$gte": 1}}) == a_ge_1
    assert parse_filter({"a": {"$gte": 1, "$lt": 5}}) == And((a_ge_1, Compare("a", "lt", 5)))
    assert parse_filter({"a": 1, "b": 2}) == And((Compare("a", "eq", 1), Compare("b", "eq", 2)))
    assert parse_filter({"$and": [{"a": 1}]}) == Compare("a", "eq", 1)
    assert parse_filter({"$or": [{"a": 1}, {"b": 2}]}) == Or((Compare("a", "eq", 1), Compare("b", "eq", 2)))
    assert parse_filter({"$not": {"a": 1}}) == Not(Compare("a", "eq", 1))
    assert parse_filter({"a": {"$not": {"$gt": 3}}}) == Not(Compare("a", "gt", 3))
    assert parse_filter({"a": {"$in": [1, 2]}}) == Compare("a", "in", (1, 2))
    assert parse_filter({"a": {"$between": [1, 2]}}) == And((a_ge_1, Compare("a", "lte", 2)))
    assert parse_filter({"a": {"$not_contains": "x"}}) == Not(Compare("a", "contains", "x"))
    assert parse_filter({"a": [1, 2]}) == Compare("a", "eq", [1, 2])
    assert parse_filter({"a.b": {"$exists": True}}) == Compare("a.b", "exists", True)
    deep: dict[str, Any] = {"a": 1}
    for _ in range(MAX_FILTER_DEPTH // 3):  # three levels each
        deep = {"$or": [{"$not": {"$and": [deep, {"b": {"$ne": 2}}]}}, {"c": 3}]}
    deep_filter = parse_filter(deep)
    assert deep_filter is not None
    assert evaluate(deep_filter, {"c": 3})
    assert MetadataTable([{"c": 3}, {}]).mask(deep_filter).tolist() == [True, evaluate(deep_filter, {})]
    for op, ast_op in DICT_OPERATORS.items():
        assert op == f"${ast_op}"


def test_unknown_operator_lists_supported_ones() -> None:
    for bad in ({"a": {"$foo": 1}}, {"$foo": [{"a": 1}]}, {"$or": [{"a": {"$regex": "x"}}]}):
        with pytest.raises(
            UnsupportedFilterError, match=r"^Invalid operator: \$(foo|regex)\. Expected one of \["
        ) as info:
            parse_filter(bad)
        message = str(info.value)
        for op in ("$eq", "$ne", "$gt", "$in", "$nin", "$contains", "$like", "$ilike", "$and", "$or", "$not"):
            assert f"'{op}'" in message
    with pytest.raises(UnsupportedFilterError, match=r"^Invalid operator: foo\. Expected one of \["):
        Compare("a", "foo", 1)


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ({"$and": 3}, r"\$and takes a non-empty list"),
        ({"$or": []}, r"\$or takes a non-empty list"),
        ({"$and": []}, r"empty list"),
        ({"$and": [3]}, r"must be a non-empty dict"),
        ({"$and": [{}]}, r"empty dict"),
        ({"$not": []}, r"\$not takes a filter dict or a non-empty list"),
        ({"$not": [3]}, r"must be a non-empty dict"),
        ({"$not": 3}, r"\$not takes a filter dict or a list of filter dicts, got int"),
        ({"a": {"$in": 5}}, r"\$in takes a list of values"),
        ({"a": {"$nin": "abc"}}, r"\$nin takes a list of values"),
        ({"a": {"$any": 1}}, r"\$any takes a list of values"),
        ({"a": {"$gt": [1]}}, r"\$gt takes a number or a string"),
        ({"a": {"$lt": True}}, r"\$lt takes a number or a string"),
        ({"a": {"$gte": None}}, r"\$gte takes a number or a string"),
        ({"a": {"$exists": 1}}, r"\$exists takes True or False"),
        ({"a": {"$is_empty": "yes"}}, r"\$is_empty takes True or False"),
        ({"a": {"$like": 5}}, r"\$like takes a string pattern"),
        ({"a": {"$text_match": None}}, r"\$text_match takes a string pattern"),
        ({"a": None}, r"cannot compare with None.*\$exists"),
        ({"a": {"$ne": None}}, r"cannot compare with None"),
        ({"a": {"$in": [1, None]}}, r"cannot compare with None"),
        ({"a": {"$eq": datetime(2020, 1, 1, tzinfo=timezone.utc)}}, r"takes JSON values"),
        ({"a": {}}, r"empty dict"),
        ({"a": {"gt": 3}}, r"did you mean `\$gt`"),
        ({"a": {"$gt": 3, "lt": 5}}, r"did you mean `\$lt`"),
        ({"a": {"$gt": 3, "x": 5}}, r"operators start with '\$'"),
        ({"and": [{"a": 1}]}, r"did you mean `\$and`"),
        ({"OR": [{"a": 1}, {"b": 2}]}, r"did you mean `\$or`"),
        ({"not": {"a": 1}}, r"did you mean `\$not`"),
        ({"a": 1, "and": [{"topic": {"eq": "pets"}}]}, r"did you mean `\$and`"),
        ({"$and": [{"topic": {"eq": "pets"}}]}, r"did you mean `\$eq`"),
        ({"topic": {"contain": "x"}}, r"did you mean `\$contains`"),
        ({"a": {"$not": 3}}, r"\$not takes an operator dict"),
        ({"a": {"$between": [1]}}, r"\$between takes \[low, high\]"),
        ({"a": {"$and": [{"$gt": 1}]}}, r"\$and goes at the top level"),
        ({"$gt": 3}, r"Operator \$gt needs a field"),
        ({1: 2}, r"must be field names or operators"),
        ({("a",): 2}, r"must be field names or operators"),
        ([{"a": 1}], r"A filter must be a dict"),
        ("a = 1", r"A filter must be a dict"),
    ],
)
def test_malformed_filters_name_the_fix(bad: Any, hint: str) -> None:
    with pytest.raises(UnsupportedFilterError, match=hint):
        parse_filter(bad)


def test_ast_validation() -> None:
    with pytest.raises(UnsupportedFilterError, match="field names must be strings"):
        Compare(1, "eq", 1)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedFilterError, match="non-empty sequence"):
        And(())
    with pytest.raises(UnsupportedFilterError, match="must be Compare, And, Or or Not"):
        Or(({"a": 1},))  # type: ignore[arg-type]
    with pytest.raises(UnsupportedFilterError, match="must be Compare, And, Or or Not"):
        Not({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(UnsupportedFilterError, match="parse_filter"):
        evaluate({"a": 1}, {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(UnsupportedFilterError, match="parse_filter"):
        MetadataTable([{"a": 1}]).mask({"a": 1})  # type: ignore[arg-type]
    node = And([Compare("a", "eq", 1)])  # type: ignore[arg-type]
    assert node.children == (Compare("a", "eq", 1),)
    assert Compare("a", "in", [1, 2]).value == (1, 2)


def test_documented_semantics() -> None:
    ev = evaluate
    assert not ev(Compare("a", "eq", 1), {"a": True})
    assert ev(Compare("a", "eq", 1), {"a": 1.0})
    assert ev(Compare("a", "eq", 2**53 + 1), {"a": 2**53 + 1})
    assert not ev(Compare("a", "eq", 2**53 + 1), {"a": float(2**53)})
    assert not ev(Compare("a", "gt", 3), {"a": "x"})
    assert ev(Compare("a", "ne", 3), {"a": "x"})
    assert ev(Compare("a", "ne", 3), {})
    assert ev(Compare("a", "ne", 3), {"a": None})
    assert ev(Compare("a", "nin", (3,)), {})
    assert ev(Compare("a", "exists", True), {"a": None})
    assert not ev(Compare("a", "exists", False), {"a": None})
    assert not ev(Compare("a", "exists", True), {})
    assert ev(Compare("a", "is_empty", True), {"a": None})
    assert ev(Compare("a", "is_empty", True), {"a": []})
    assert ev(Compare("a", "is_empty", True), {"a": ""})
    assert not ev(Compare("a", "is_empty", True), {"a": 0})
    assert ev(Compare("a", "contains", "b"), {"a": "abc"})
    assert ev(Compare("a", "contains", "b"), {"a": ["b"]})
    assert not ev(Compare("a", "contains", "b"), {"a": ["abc"]})
    assert not ev(Compare("a", "contains", 1), {"a": [True]})
    assert not ev(Compare("a", "eq", "b"), {"a": ["b"]})
    assert ev(Compare("a", "like", "a%\\%"), {"a": "a\nb%"})
    assert not ev(Compare("a", "like", "A%"), {"a": "abc"})
    assert ev(Compare("a", "ilike", "A_C"), {"a": "abc"})
    assert ev(Compare("a.b", "eq", 1), {"a.b": 1})
    assert ev(Compare("a.b", "eq", 1), {"a": {"b": 1}})
    assert ev(Compare("a.b", "eq", 1), {"a.b": 1, "a": {"b": 2}})  # the literal key wins
    assert not ev(Compare("a.b", "eq", 2), {"a.b": 1, "a": {"b": 2}})
    assert ev(Compare("a.b.c", "eq", 1), {"a": {"b.c": 1}})
    assert ev(Compare("a.b.c", "eq", 1), {"a.b": {"c": 1}}) is False  # only the first dot splits
    assert not ev(Compare("a.0", "eq", 1), {"a": [1]})  # lists are not traversed
    assert not ev(Compare("a.b", "eq", 1), {"a": 1})
    assert ev(Compare("a.b", "exists", True), {"a": {"b": None}})
    assert not ev(Compare("a.b", "exists", True), {"a": {}})
    assert ev(Compare("a.b", "ne", 1), {"a": "x"})
    assert ev(Not(Compare("a", "gt", 3)), {})
    assert not ev(Compare("a", "eq", math.nan), {"a": math.nan})
    assert ev(Compare("a", "all", ()), {"a": 5})
    assert not ev(Compare("a", "all", ()), {})
    assert not ev(Compare("a", "any", ()), {"a": [1]})


# --------------------------------------------------------------------------------------------------
# Nesting limits: deep filters from untrusted input raise a typed error, never RecursionError


def _nested(
    depth: int, wrap: Callable[[dict[str, Any]], dict[str, Any]], leaf: dict[str, Any] | None = None
) -> dict[str, Any]:
    flt: dict[str, Any] = leaf or {"a": 1}
    for _ in range(depth):
        flt = wrap(flt)
    return flt


def _field_not(depth: int) -> dict[str, Any]:
    ops: dict[str, Any] = {"$eq": 1}
    for _ in range(depth):
        ops = {"$not": ops}
    return {"a": ops}


def _deep_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


DEEP_FILTERS = {
    "not_400": _nested(400, lambda f: {"$not": f}),
    "and_400": _nested(400, lambda f: {"$and": [f, {"b": 2}]}),
    "or_400": _nested(400, lambda f: {"$or": [{"b": 2}, f]}),
    "one_child_and_400": _nested(400, lambda f: {"$and": [f]}),
    "several_keys_400": _nested(400, lambda f: {"b": 2, "$not": f}),
    "field_not_400": _field_not(400),
    "not_5000": _nested(5000, lambda f: {"$not": f}),
    "mixed_5000": _nested(5000, lambda f: {"$or": [{"$not": {"$and": [f, {"b": 2}]}}, {"c": 3}]}),
}


@pytest.mark.parametrize("flt", DEEP_FILTERS.values(), ids=DEEP_FILTERS.keys())
def test_deep_filter_dicts_raise_a_typed_error(flt: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFilterError, match=rf"more than {MAX_FILTER_DEPTH} levels.*MAX_FILTER_DEPTH"):
        parse_filter(flt)


@pytest.mark.parametrize(
    "build",
    [lambda f: Not(f), lambda f: And((f, Compare("b", "eq", 2))), lambda f: Or((Compare("b", "eq", 2), f))],
    ids=["not", "and", "or"],
)
def test_deep_trees_are_refused_when_built(build: Callable[[Filter], Filter]) -> None:
    """Adapters and callers build the AST directly, so the nodes themselves refuse to grow too deep."""
    node: Filter = Compare("a", "eq", 1)
    for _ in range(MAX_FILTER_DEPTH):
        node = build(node)
    assert evaluate(node, {"a": 1}) in (True, False)
    assert MetadataTable([{"a": 1}, {}]).mask(node).tolist() == [evaluate(node, {"a": 1}), evaluate(node, {})]
    with pytest.raises(UnsupportedFilterError, match=rf"more than {MAX_FILTER_DEPTH} levels.*MAX_FILTER_DEPTH"):
        build(node)  # so a loop building 400 levels stops at the first one too many


def test_filter_depth_limit_is_exact() -> None:
    """A filter exactly MAX_FILTER_DEPTH levels deep works in both syntaxes; one more level is refused."""
    one_level: list[Callable[[dict[str, Any]], dict[str, Any]]] = [
        lambda f: {"$not": f},
        lambda f: {"$and": [f, {"b": 2}]},
        lambda f: {"$or": [f]},  # a one-element list is a level of the dict even though it adds no node
    ]
    for wrap in one_level:
        at_limit = parse_filter(_nested(MAX_FILTER_DEPTH, wrap))
        assert at_limit is not None
        assert MetadataTable([{"a": 1, "b": 2}]).mask(at_limit).tolist() == [evaluate(at_limit, {"a": 1, "b": 2})]
        with pytest.raises(UnsupportedFilterError, match="MAX_FILTER_DEPTH"):
            parse_filter(_nested(MAX_FILTER_DEPTH + 1, wrap))
    assert parse_filter(_field_not(MAX_FILTER_DEPTH)) is not None
    with pytest.raises(UnsupportedFilterError, match="MAX_FILTER_DEPTH"):
        parse_filter(_field_not(MAX_FILTER_DEPTH + 1))

    # Several keys or operators in one dict are an implicit $and, a level of its own ($between too).
    def two_levels(f: dict[str, Any]) -> dict[str, Any]:
        return {"b": 2, "$not": f}

    assert parse_filter(_nested(MAX_FILTER_DEPTH // 2, two_levels)) is not None
    with pytest.raises(UnsupportedFilterError, match="MAX_FILTER_DEPTH"):
        parse_filter(_nested(MAX_FILTER_DEPTH // 2 + 1, two_levels))
    for leaf in ({"a": {"$between": [1, 2]}}, {"a": {"$gt": 1, "$lt": 2}}, {"a": 1, "b": 2}):
        assert parse_filter(_nested(MAX_FILTER_DEPTH - 1, one_level[0], leaf)) is not None
        with pytest.raises(UnsupportedFilterError, match="MAX_FILTER_DEPTH"):
            parse_filter(_nested(MAX_FILTER_DEPTH, one_level[0], leaf))


@pytest.mark.parametrize(
    "flt",
    [
        {"a": {"$eq": _deep_list(5000)}},
        {"a": {"$in": [1, _deep_list(400)]}},
        {"a": {"$contains": _deep_list(MAX_METADATA_DEPTH + 1)}},
    ],
    ids=["eq_5000", "in_400", "contains_limit_plus_one"],
)
def test_deep_filter_values_raise_a_typed_error(flt: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFilterError, match=rf"more than {MAX_METADATA_DEPTH} levels.*MAX_METADATA_DEPTH"):
        parse_filter(flt)


def test_filter_values_may_nest_as_deep_as_metadata() -> None:
    value = _deep_list(MAX_METADATA_DEPTH)
    flt = parse_filter({"a": {"$eq": value}})
    assert flt is not None
    assert evaluate(flt, {"a": value})
    assert MetadataTable([{"a": value}, {"a": 1}]).mask(flt).tolist() == [True, False]
