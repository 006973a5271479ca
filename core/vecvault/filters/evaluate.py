"""Evaluating a filter against one metadata dict (the reference semantics)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from vecvault.errors import UnsupportedFilterError
from vecvault.filters.ast import And, Compare, Filter, Not, Or
from vecvault.filters.compare import COMPARISON_OPERATORS


class _Missing:
    """The value of a field a record does not have (distinct from a key holding ``None``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Final = _Missing()


def _resolve_field(metadata: Mapping[str, Any], field: str) -> Any:
    """The value ``field`` names in ``metadata``, or ``_MISSING``.

    The whole name is tried as a key first, so a literal key containing a dot matches itself. Otherwise a
    dotted name is a path into nested dicts: the part before the first dot must hold a dict, in which the
    rest is looked up the same way (whole rest as a key first, then split at its first dot). Lists are
    not traversed. One dict lookup per level, so any name costs O(number of dots).
    """
    value = metadata.get(field, _MISSING)
    node, rest = metadata, field
    while value is _MISSING and "." in rest:
        head, _, rest = rest.partition(".")
        child = node.get(head, _MISSING)
        if not isinstance(child, Mapping):
            return _MISSING
        node = child
        value = node.get(rest, _MISSING)
    return value


def _compare(op: str, stored: Any, value: Any) -> bool:
    """One comparison on a resolved value (``_MISSING`` when the record has no such field)."""
    if op == "exists":
        return (stored is not _MISSING) is bool(value)
    return COMPARISON_OPERATORS[op](None if stored is _MISSING else stored, value)


def evaluate(filter: Filter, metadata: Mapping[str, Any]) -> bool:
    """Whether one decrypted metadata dict matches a filter (the reference semantics).

    Args:
        filter: An AST node (use ``parse_filter`` for dicts).
        metadata: The record's metadata.

    Returns:
        True when the record matches. Never raises on mismatched types.

    Raises:
        UnsupportedFilterError: if ``filter`` is not an AST node.
    """
    if isinstance(filter, Compare):
        return _compare(filter.op, _resolve_field(metadata, filter.field), filter.value)
    if isinstance(filter, And):
        return all(evaluate(child, metadata) for child in filter.children)
    if isinstance(filter, Or):
        return any(evaluate(child, metadata) for child in filter.children)
    if isinstance(filter, Not):
        return not evaluate(filter.child, metadata)
    raise UnsupportedFilterError(
        f"evaluate() takes a Compare, And, Or or Not node, got {type(filter).__name__}; "
        "use parse_filter() on dicts first."
    )
