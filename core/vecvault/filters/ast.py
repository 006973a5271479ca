"""The filter AST: ``Compare``, ``And``, ``Or``, ``Not``, with their depth limit and value checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from vecvault._validate import MAX_METADATA_DEPTH, json_problem
from vecvault.errors import UnsupportedFilterError
from vecvault.filters.compare import COMPARISON_OPERATORS, _is_number

MAX_FILTER_DEPTH: Final = 64
"""How many levels of ``And`` / ``Or`` / ``Not`` a filter may nest (a ``Compare`` alone is 0).

In dict syntax every ``$and``, ``$or`` and ``$not`` (top-level or on a field) is a level, even a one-element
``$and`` list, and so is a dict of several keys or several operators (an implicit ``$and``, as is
``$between``). Hand-written and self-query filters nest a few levels, and a long list of conditions is one
level (``{"$or": [a, b, c, ...]}``), so 64 only stops input built to exhaust the stack. Parsing,
evaluating and masking recurse a few frames per level: at 64 levels, with a comparison value nested as deep
as metadata may be, parsing takes about 470 frames, ``evaluate`` 390 and ``mask`` 210, which leaves
Python's recursion limit (1000) hundreds of frames for the caller. Deeper filters raise
``UnsupportedFilterError``, both from ``parse_filter`` (before it recurses into them) and when an ``And``,
``Or`` or ``Not`` node is built, so no evaluator ever sees one.
"""

# What each operator accepts as its filter value (checked when a ``Compare`` is built).
_VALUE_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "eq": "json",
        "ne": "json",
        "contains": "json",
        "gt": "orderable",
        "gte": "orderable",
        "lt": "orderable",
        "lte": "orderable",
        "in": "list",
        "nin": "list",
        "any": "list",
        "all": "list",
        "text_match": "str",
        "text_match_insensitive": "str",
        "like": "str",
        "ilike": "str",
        "exists": "bool",
        "is_empty": "bool",
    }
)


def _checked_value(field: str, op: str, value: Any) -> Any:
    """Validate a comparison value for ``op``; returns it, with lists of operands turned into tuples."""
    kind = _VALUE_KINDS[op]
    where = f"Filter on field {field!r}: ${op}"
    if kind == "bool":
        if not isinstance(value, bool):
            raise UnsupportedFilterError(f"{where} takes True or False, got {type(value).__name__}.")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise UnsupportedFilterError(f"{where} takes a string pattern, got {type(value).__name__}.")
        return value
    if kind == "orderable":
        if not (_is_number(value) or isinstance(value, str)):
            raise UnsupportedFilterError(
                f"{where} takes a number or a string, got {type(value).__name__}; "
                "use $in for a list of values or $between for a range."
            )
        return value
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            raise UnsupportedFilterError(
                f"{where} takes a list of values, got {type(value).__name__}; "
                f"write {{{field!r}: {{'${op}': [value, ...]}}}}."
            )
        for item in value:
            _check_json_value(where, item)
        return tuple(value)
    _check_json_value(where, value)
    return value


def _check_json_value(where: str, value: Any) -> None:
    if value is None:
        raise UnsupportedFilterError(
            f"{where} cannot compare with None: vecvault treats None like a missing key, so it would "
            "never match. Use {'field': {'$exists': False}} or {'field': {'$is_empty': True}} instead."
        )
    # The rule stored metadata follows (vecvault._validate), as a filter value sits where a metadata value does.
    problem, _ = json_problem(value, where, depth=1, dates=False, finite=False)
    if problem is None:
        return
    if problem.kind == "deep":
        raise UnsupportedFilterError(
            f"{where} takes a value that nests lists and dicts more than {MAX_METADATA_DEPTH} levels deep "
            "(vecvault.records.MAX_METADATA_DEPTH), deeper than any stored metadata, so it could never match; "
            "compare with a shallower value."
        )
    raise UnsupportedFilterError(
        f"{where} takes JSON values (str, int, float, bool, list, dict), got {type(value).__name__}; "
        "convert it first (for example a datetime to an ISO string)."
    )


@dataclass(frozen=True)
class Compare:
    """One comparison of a metadata field with a value, e.g. ``Compare("year", "gte", 1990)``.

    Attributes:
        field: Metadata key, or a dotted path into nested dicts (a literal key with dots wins).
        op: A key of ``COMPARISON_OPERATORS``.
        value: The operand; its allowed type depends on ``op`` and is checked on construction.
    """

    field: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        if not isinstance(self.field, str):
            raise UnsupportedFilterError(f"Filter field names must be strings, got {type(self.field).__name__}.")
        if self.op not in COMPARISON_OPERATORS:
            raise UnsupportedFilterError(f"Invalid operator: {self.op}. Expected one of {list(COMPARISON_OPERATORS)}")
        object.__setattr__(self, "value", _checked_value(self.field, self.op, self.value))


def _too_deep() -> UnsupportedFilterError:
    return UnsupportedFilterError(
        f"This filter nests $and/$or/$not (And/Or/Not) more than {MAX_FILTER_DEPTH} levels deep "
        "(vecvault.filters.MAX_FILTER_DEPTH). Flatten it: list the conditions of nested $and (or $or) in one "
        "{'$and': [a, b, c, ...]} (And((a, b, c, ...))), and drop double negations."
    )


def _checked_children(name: str, children: Any) -> tuple[tuple[Filter, ...], int]:
    """The children as a tuple, and the depth of a node over them.

    Raises:
        UnsupportedFilterError: no children, a child that is not a node, or a node deeper than
            ``MAX_FILTER_DEPTH``.
    """
    if not isinstance(children, (list, tuple)) or not children:
        raise UnsupportedFilterError(f"{name} needs a non-empty sequence of filters.")
    depth = 0
    for child in children:
        if isinstance(child, (And, Or, Not)):
            depth = max(depth, child.depth)
        elif not isinstance(child, Compare):
            raise UnsupportedFilterError(
                f"{name} children must be Compare, And, Or or Not nodes, got {type(child).__name__}; "
                "use parse_filter() for dicts."
            )
    if depth >= MAX_FILTER_DEPTH:
        raise _too_deep()
    return tuple(children), depth + 1


@dataclass(frozen=True)
class And:
    """True when every child is true.

    Attributes:
        children: The filters that must all hold.
        depth: Levels of ``And``/``Or``/``Not`` from this node down, at most ``MAX_FILTER_DEPTH``.
    """

    children: tuple[Filter, ...]
    depth: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        children, depth = _checked_children("And", self.children)
        object.__setattr__(self, "children", children)
        object.__setattr__(self, "depth", depth)


@dataclass(frozen=True)
class Or:
    """True when at least one child is true.

    Attributes:
        children: The filters of which one must hold.
        depth: Levels of ``And``/``Or``/``Not`` from this node down, at most ``MAX_FILTER_DEPTH``.
    """

    children: tuple[Filter, ...]
    depth: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        children, depth = _checked_children("Or", self.children)
        object.__setattr__(self, "children", children)
        object.__setattr__(self, "depth", depth)


@dataclass(frozen=True)
class Not:
    """True when the child is false (including when the child's field is absent).

    Attributes:
        child: The negated filter.
        depth: Levels of ``And``/``Or``/``Not`` from this node down, at most ``MAX_FILTER_DEPTH``.
    """

    child: Filter
    depth: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", _checked_children("Not", (self.child,))[1])


Filter: TypeAlias = Compare | And | Or | Not
"""Any node of the filter AST."""

_NODE_TYPES: Final = (Compare, And, Or, Not)
