"""The dict syntax of filters (Mongo / LangChain ``$`` operators) parsed into the AST."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from vecvault.errors import UnsupportedFilterError
from vecvault.filters.ast import (
    _NODE_TYPES,
    MAX_FILTER_DEPTH,
    And,
    Compare,
    Filter,
    Not,
    Or,
    _too_deep,
)
from vecvault.filters.compare import COMPARISON_OPERATORS

DICT_OPERATORS: Final[Mapping[str, str]] = MappingProxyType({f"${op}": op for op in COMPARISON_OPERATORS})
"""``$`` operators of the dict syntax that map one to one onto an AST comparison operator."""

# ``$`` operators that expand into several AST nodes.
_SHORTHAND_OPERATORS: Final = ("$between", "$not", "$not_contains")

LOGICAL_OPERATORS: Final = ("$and", "$or", "$not")
"""Logical operators of the dict syntax, valid at the top level of a filter dict."""

_SUPPORTED: Final = sorted({*DICT_OPERATORS, *_SHORTHAND_OPERATORS, *LOGICAL_OPERATORS})

# Operator names written without their ``$`` (LangChain's community ``PGVectorTranslator`` emits
# ``{"and": [{"topic": {"eq": "pets"}}]}``), and the ``$`` operator each most likely meant.
_BARE_OPERATORS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{op[1:]: op for op in _SUPPORTED},
        "contain": "$contains",
        "nor": "$not: [...]",
        "neq": "$ne",
    }
)

_BARE_LOGICAL: Final = ("and", "or", "not", "nor")


def parse_filter(obj: object) -> Filter | None:
    """Parse a LangChain/Chroma/Mongo-style filter dict into the AST.

    Args:
        obj: ``None`` or ``{}`` (no filter), an AST node (returned as is), or a filter dict.

    Returns:
        The filter, or ``None`` when there is nothing to filter on.

    Raises:
        UnsupportedFilterError: for an unknown operator, a malformed filter, or one nested deeper than
            ``MAX_FILTER_DEPTH``; the message names the fix.
    """
    if obj is None:
        return None
    if isinstance(obj, _NODE_TYPES):
        return obj
    if not isinstance(obj, Mapping):
        raise UnsupportedFilterError(
            "A filter must be a dict such as {'field': {'$eq': value}} or a vecvault.filters node, "
            f"got {type(obj).__name__}."
        )
    if not obj:
        return None
    return _parse_dict(obj, 0)


def _invalid_operator(op: str) -> UnsupportedFilterError:
    return UnsupportedFilterError(f"Invalid operator: {op}. Expected one of {_SUPPORTED}")


def _combine(children: list[Filter], node: type[And] | type[Or]) -> Filter:
    return children[0] if len(children) == 1 else node(tuple(children))


def _deeper(depth: int) -> int:
    """The depth inside one more level of And/Or/Not."""
    if depth >= MAX_FILTER_DEPTH:
        raise _too_deep()
    return depth + 1


def _parse_dict(obj: Mapping[Any, Any], depth: int) -> Filter:
    if len(obj) > 1:
        depth = _deeper(depth)  # several keys: an implicit $and
    parts: list[Filter] = []
    for key, arg in obj.items():
        if not isinstance(key, str):
            raise UnsupportedFilterError(
                f"Filter keys must be field names or operators (strings), got {type(key).__name__}."
            )
        if key.startswith("$"):
            parts.append(_parse_logical(key, arg, depth))
        else:
            _refuse_bare_logical(key, arg)
            parts.append(_parse_field(key, arg, depth))
    return _combine(parts, And)


def _refuse_bare_logical(key: str, arg: Any) -> None:
    """Refuse ``{"and": [...]}`` / ``{"not": {...}}``: a logical operator without its ``$``, not a field.

    A key named like a logical operator is read as an operator when its value has the shape of one (a list,
    or a dict that is not an operator dict): as a field it would be compared with a list of filters and
    silently match nothing. A field really named so is written with an explicit operator
    (``{"and": {"$eq": [...]}}``) or through the AST (``Compare("and", "eq", ...)``).
    """
    name = key.lower()
    if name not in _BARE_LOGICAL:
        return
    if isinstance(arg, (list, tuple)) or (
        isinstance(arg, Mapping) and not all(isinstance(k, str) and k.startswith("$") for k in arg)
    ):
        raise UnsupportedFilterError(
            f"Filter key {key!r} looks like a logical operator without its '$': did you mean "
            f"`{_BARE_OPERATORS[name]}`? Operators start with '$' ({{'$and': [...]}}); to filter on a field "
            f"named {key!r}, give it an operator: {{{key!r}: {{'$eq': ...}}}}."
        )


def _parse_subfilter(op: str, arg: Any, depth: int) -> Filter:
    if not isinstance(arg, Mapping) or not arg:
        raise UnsupportedFilterError(
            f"Each filter under {op} must be a non-empty dict such as {{'field': value}}, "
            f"got {type(arg).__name__ if not isinstance(arg, Mapping) else 'an empty dict'}."
        )
    return _parse_dict(arg, depth)


def _parse_logical(op: str, arg: Any, depth: int) -> Filter:
    if op in ("$and", "$or"):
        if not isinstance(arg, (list, tuple)) or not arg:
            raise UnsupportedFilterError(
                f"{op} takes a non-empty list of filter dicts, e.g. {{'{op}': [{{'a': 1}}, {{'b': 2}}]}}; "
                f"got {type(arg).__name__ if not isinstance(arg, (list, tuple)) else 'an empty list'}."
            )
        depth = _deeper(depth)
        children = [_parse_subfilter(op, child, depth) for child in arg]
        return _combine(children, And if op == "$and" else Or)
    if op == "$not":
        if isinstance(arg, (list, tuple)):
            # PGVector's list form: none of the filters may match, {"$not": {"$or": [...]}}.
            if not arg:
                raise UnsupportedFilterError(
                    "$not takes a filter dict or a non-empty list of filter dicts (none of which may match)."
                )
            depth = _deeper(depth)
            if len(arg) > 1:
                depth = _deeper(depth)
            children = [_parse_subfilter(op, child, depth) for child in arg]
            return Not(_combine(children, Or))
        if not isinstance(arg, Mapping):
            raise UnsupportedFilterError(
                f"$not takes a filter dict or a list of filter dicts, got {type(arg).__name__}; "
                "e.g. {'$not': {'genre': 'sf'}}."
            )
        return Not(_parse_subfilter(op, arg, _deeper(depth)))
    if op in DICT_OPERATORS or op in _SHORTHAND_OPERATORS:
        raise UnsupportedFilterError(
            f"Operator {op} needs a field: write {{'field': {{'{op}': value}}}}. "
            f"Only {list(LOGICAL_OPERATORS)} may appear at the top level of a filter."
        )
    raise _invalid_operator(op)


def _parse_field(field: str, arg: Any, depth: int) -> Filter:
    if not isinstance(arg, Mapping):
        return Compare(field, "eq", arg)
    if not arg:
        raise UnsupportedFilterError(
            f"Filter on field {field!r} is an empty dict; give an operator such as {{'$eq': value}}."
        )
    if not all(isinstance(k, str) and k.startswith("$") for k in arg):
        bare = [k for k in arg if isinstance(k, str) and k.lower() in _BARE_OPERATORS]
        if bare:
            meant = _BARE_OPERATORS[bare[0].lower()]
            raise UnsupportedFilterError(
                f"Filter on field {field!r} uses {bare[0]!r}, an operator without its '$': did you mean "
                f"`{meant}`? Write {{{field!r}: {{'{meant}': ...}}}}; "
                f"to compare with a dict value write {{{field!r}: {{'$eq': {{...}}}}}}."
            )
        raise UnsupportedFilterError(
            f"Filter on field {field!r} mixes operators with other keys; operators start with '$' "
            f"(e.g. '$gt'). To compare with a dict value write {{{field!r}: {{'$eq': {{...}}}}}}."
        )
    if len(arg) > 1:
        depth = _deeper(depth)  # several operators: an implicit $and
    parts = [_parse_field_operator(field, op, value, depth) for op, value in arg.items()]
    return _combine(parts, And)


def _parse_field_operator(field: str, op: str, value: Any, depth: int) -> Filter:
    if op in DICT_OPERATORS:
        return Compare(field, DICT_OPERATORS[op], value)
    if op == "$not":
        if not isinstance(value, Mapping):
            raise UnsupportedFilterError(
                f"Filter on field {field!r}: $not takes an operator dict such as {{'$gt': 3}}; "
                "to exclude one value use $ne."
            )
        return Not(_parse_field(field, value, _deeper(depth)))
    if op == "$not_contains":
        _deeper(depth)
        return Not(Compare(field, "contains", value))
    if op == "$between":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise UnsupportedFilterError(f"Filter on field {field!r}: $between takes [low, high] (both inclusive).")
        _deeper(depth)
        return And((Compare(field, "gte", value[0]), Compare(field, "lte", value[1])))
    if op in ("$and", "$or"):
        raise UnsupportedFilterError(
            f"Filter on field {field!r}: {op} goes at the top level, e.g. "
            f"{{'{op}': [{{{field!r}: ...}}, {{{field!r}: ...}}]}}."
        )
    raise _invalid_operator(op)
