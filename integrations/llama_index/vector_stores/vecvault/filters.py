"""Translate LlamaIndex ``MetadataFilters`` into the vecvault filter AST, by one recursive function.

Every ``FilterOperator`` maps onto the AST operator of the same meaning (``vecvault.filters`` documents the
semantics, which follow llama-index-core's reference ``build_metadata_filter_fn``)::

    ==  eq      !=  ne      >  gt      >=  gte     <  lt      <=  lte
    in  in      nin nin     any any    all all     contains contains
    text_match text_match   text_match_insensitive text_match_insensitive
    is_empty -> Compare(key, "is_empty", True)   (the filter's value is ignored, as LlamaIndex does)

``FilterCondition.AND`` -> ``And``, ``OR`` -> ``Or`` and ``NOT`` -> ``Not(Or(...))`` ("none of them match",
the reference meaning). ``MetadataFilters`` nest up to ``vecvault.filters.MAX_FILTER_DEPTH`` (64) groups
deep; every group counts, even one with a single filter, and the tree built may not nest ``And``/``Or``/``Not``
deeper either (a ``NOT`` group of several filters is two levels, ``Not(Or(...))``). Deeper filters raise
``UnsupportedFilterError``, never ``RecursionError``.

Where the reference evaluator would raise ``TypeError`` on a record (ordering a string against a number,
``text_match`` on a number, ``contains`` on a number) the record simply does not match here. A ``None``
filter value is refused (the reference never matches it with ``==`` and crashes on most other operators):
use ``FilterOperator.IS_EMPTY`` to find missing or ``None`` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from vecvault.errors import UnsupportedFilterError
from vecvault.filters import MAX_FILTER_DEPTH, And, Compare, Filter, Not, Or

__all__ = ["OPERATORS", "to_vecvault_filter"]

OPERATORS: Final[Mapping[FilterOperator, str]] = {
    FilterOperator.EQ: "eq",
    FilterOperator.NE: "ne",
    FilterOperator.GT: "gt",
    FilterOperator.GTE: "gte",
    FilterOperator.LT: "lt",
    FilterOperator.LTE: "lte",
    FilterOperator.IN: "in",
    FilterOperator.NIN: "nin",
    FilterOperator.ANY: "any",
    FilterOperator.ALL: "all",
    FilterOperator.TEXT_MATCH: "text_match",
    FilterOperator.TEXT_MATCH_INSENSITIVE: "text_match_insensitive",
    FilterOperator.CONTAINS: "contains",
    FilterOperator.IS_EMPTY: "is_empty",
}
"""Each LlamaIndex filter operator and the vecvault AST operator it becomes."""

_SUPPORTED_OPERATORS: Final = [op.value for op in OPERATORS]
_SUPPORTED_CONDITIONS: Final = [c.value for c in FilterCondition]


def to_vecvault_filter(filters: MetadataFilters | None) -> Filter | None:
    """Translate LlamaIndex metadata filters into a vecvault filter.

    Args:
        filters: ``None``, or ``MetadataFilters`` (nested groups allowed).

    Returns:
        The AST, or ``None`` when there is nothing to filter on (``None`` or an empty top-level list).

    Raises:
        UnsupportedFilterError: an unknown operator or condition, a ``None`` value, an empty nested group,
            a value of the wrong type for its operator (e.g. ``IN`` with a single string), or groups nested
            deeper than ``MAX_FILTER_DEPTH``.
    """
    if filters is None:
        return None
    if not isinstance(filters, MetadataFilters):
        raise UnsupportedFilterError(
            f"filters must be llama_index MetadataFilters, got {type(filters).__name__}; "
            "build one with MetadataFilters(filters=[MetadataFilter(key=..., value=..., operator=...)])."
        )
    if not filters.filters:
        return None
    return _build_subfilter(filters, 0)


def _build_subfilter(filters: MetadataFilters, depth: int) -> Filter:
    """Translate one group, recursing into nested groups; ``depth`` counts the groups around it."""
    if depth >= MAX_FILTER_DEPTH:
        raise UnsupportedFilterError(
            f"MetadataFilters nest more than {MAX_FILTER_DEPTH} groups deep (vecvault.filters.MAX_FILTER_DEPTH); "
            "flatten them: put the filters of nested groups that share a condition into one group."
        )
    if not filters.filters:
        raise UnsupportedFilterError(
            "A nested MetadataFilters group is empty; remove it or give it at least one filter."
        )
    children: list[Filter] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            children.append(_build_subfilter(item, depth + 1))
        elif isinstance(item, MetadataFilter):
            children.append(_build_condition(item))
        else:
            raise UnsupportedFilterError(
                f"MetadataFilters.filters holds a {type(item).__name__}; expected MetadataFilter or MetadataFilters."
            )
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return children[0] if len(children) == 1 else And(tuple(children))
    if condition == FilterCondition.OR:
        return children[0] if len(children) == 1 else Or(tuple(children))
    if condition == FilterCondition.NOT:
        return Not(children[0] if len(children) == 1 else Or(tuple(children)))
    raise UnsupportedFilterError(f"Invalid filter condition: {condition}. Expected one of {_SUPPORTED_CONDITIONS}")


def _build_condition(item: MetadataFilter) -> Filter:
    """Translate one ``MetadataFilter`` into a ``Compare``."""
    try:
        operator = FilterOperator(item.operator)
    except ValueError:
        raise UnsupportedFilterError(
            f"Invalid operator: {item.operator}. Expected one of {_SUPPORTED_OPERATORS}"
        ) from None
    op = OPERATORS.get(operator)
    if op is None:  # pragma: no cover - a FilterOperator added by a newer llama-index-core
        raise UnsupportedFilterError(f"Invalid operator: {operator.value}. Expected one of {_SUPPORTED_OPERATORS}")
    if op == "is_empty":
        return Compare(item.key, "is_empty", True)
    if item.value is None:
        raise UnsupportedFilterError(
            f"MetadataFilter on key {item.key!r} with operator {operator.value!r} has value None, which "
            "never matches; to find records where the key is missing or None use FilterOperator.IS_EMPTY "
            "(or NOT of it for the opposite)."
        )
    return Compare(item.key, op, item.value)
