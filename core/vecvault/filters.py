"""One filter language for vecvault: an AST, a dict parser, a reference evaluator and a columnar evaluator.

Metadata is sealed at rest, so filters run on decrypted metadata in this process. Both adapters translate
their framework's filters into the small AST below (``Compare``, ``And``, ``Or``, ``Not``);
``evaluate`` is the reference meaning of that AST on one metadata dict, and ``MetadataTable.mask`` computes
the same answer for every row of a collection at once with numpy.

Dict syntax (LangChain, Chroma, PGVector, Mongo style), parsed by ``parse_filter``::

    {"genre": "sf"}                                  # shorthand for {"genre": {"$eq": "sf"}}
    {"year": {"$gte": 1990, "$lt": 2000}}            # several operators on one field: AND
    {"genre": "sf", "year": {"$gt": 2000}}           # several fields in one dict: AND
    {"$or": [{"genre": "sf"}, {"$and": [{"a": 1}, {"b": {"$ne": 2}}]}]}
    {"$not": {"genre": "sf"}}                        # or, per field: {"genre": {"$not": {"$eq": "sf"}}}
    {"$not": [{"genre": "sf"}, {"year": 1999}]}      # PGVector's list form: none of them, $not of $or
    {"specs.screen": "OLED"}                         # a dotted path into nested dicts

Field operators (``$`` name -> AST op): ``$eq $ne $gt $gte $lt $lte $in $nin $contains $any $all
$text_match $text_match_insensitive $like $ilike $exists $is_empty``, plus the shorthands ``$between``
(``[low, high]``, both inclusive), ``$not_contains`` and a field-level ``$not``. Logical operators:
``$and`` and ``$or`` (non-empty lists of filter dicts) and ``$not`` (one filter dict, or a non-empty list of
them that must all fail). Anything else raises ``UnsupportedFilterError``; nothing is ignored or falls back
silently. That includes an operator written without its ``$`` (LangChain's community ``PGVectorTranslator``
emits ``{"and": [{"topic": {"eq": "pets"}}]}``): a top-level ``and``/``or``/``not``/``nor`` key whose value is
a list or a filter dict, and an operator dict with a key such as ``eq``, raise an error that says "did you
mean ``$and`` / ``$eq``", instead of being read as a field and matching nothing.

Filters may come from untrusted input (a self-query retriever, a search form), so they are bounded: a
filter nests at most ``MAX_FILTER_DEPTH`` (64) levels of ``$and``/``$or``/``$not``, a comparison value
nests lists and dicts at most ``vecvault.records.MAX_METADATA_DEPTH`` (64) levels (as deep as stored
metadata may), deeper raises ``UnsupportedFilterError``, and no operator takes more than
O(len(value) * len(operand)) time.

Semantics (the rules ``evaluate`` implements and ``MetadataTable.mask`` reproduces bit for bit):

- **Dotted paths reach into nested dicts** (as Qdrant and Mongo read them): ``"specs.screen"`` is
  ``metadata["specs"]["screen"]``. A literal key wins: when the metadata has the key ``"a.b"`` itself, that
  is the value (so stored keys containing dots keep matching themselves); otherwise the part before the first
  dot must hold a dict, in which the rest is looked up the same way. Lists are not traversed
  (``"tags.0"`` is nothing; use ``$contains``). A key that itself starts with ``$`` can only be filtered
  through the AST (``Compare("$k", "eq", 1)``).
- **Missing key and ``None`` are the same thing, "absent", to every operator but ``exists``.** On an absent
  value every operator is false, except ``ne`` and ``nin`` (true: an absent value is not equal to
  anything), ``exists: False`` and ``is_empty: True``. ``None`` is therefore not accepted as a comparison
  value (it would never match); write ``{"a": {"$exists": False}}`` or ``{"a": {"$is_empty": True}}``
  instead. This is LlamaIndex's rule (``build_metadata_filter_fn``) and also Mongo's for ``$ne``/``$nin``.
- **``exists``** is true when the key is present, even holding ``None`` (Mongo's and PGVector's rule:
  ``{"a": None}`` has ``a``); a dotted path exists when it resolves. **``is_empty``** is true for absent,
  ``None``, ``""`` and ``[]`` (exactly LlamaIndex's ``IS_EMPTY``), so "missing or null" is
  ``{"a": {"$is_empty": True}}``.
- **Types never raise.** Comparing values of different types is simply a non-match (``{"a": {"$gt": 3}}``
  on ``a = "x"`` is false, and its ``$ne`` is true); no ``TypeError`` ever escapes mid-query.
- **Equality is JSON equality.** ``bool`` is distinct from numbers (``True`` does not equal ``1``, as in
  JSON; LlamaIndex would use Python's ``True == 1``, the one place we deliberately differ). Numbers compare
  by value across ``int``/``float`` (``1 == 1.0``), exactly as Python compares them (no rounding of big
  ints). NaN equals nothing. Lists are equal element by element, dicts key by key.
  ``{"tags": "a"}`` does *not* match ``tags = ["a", "b"]``: use ``$contains`` for membership.
- **Ordering** (``gt gte lt lte``) is defined for number against number and for string against string
  (code-point order, so ISO dates work); any other pairing (bools, lists, mixed) is a non-match.
- **``in`` / ``nin``** test equality (as above) against each listed value; ``nin`` is ``not in``.
  On a list field, ``in`` compares the whole list (LlamaIndex's meaning); use ``$any`` for overlap.
- **``contains``** depends on the stored value: on a *list* it is membership (an element equals the
  value); on a *string* it is substring (the value must be a string); on anything else it is false.
  **``any``** / **``all``** apply ``contains`` to each listed value (``all`` of an empty list is true
  for any present value, ``any`` of an empty list is false), as LlamaIndex does.
- **``text_match``** is case-sensitive substring, **``text_match_insensitive``** compares
  ``value.lower()`` in ``stored.lower()``; both are false on non-strings.
- **``like`` / ``ilike``** are SQL ``LIKE`` patterns matched against the whole string: ``%`` is any
  run of characters (newlines included), ``_`` is one character, and a backslash escapes the next
  character (PostgreSQL's default). ``like`` is case-sensitive; ``ilike`` ignores case
  (``re.IGNORECASE``, one character at a time). Both are false on non-strings. A match costs at most
  O(len(value) * len(pattern)) whatever the pattern, so a filter from untrusted input cannot stall the
  vault (no regex backtracking over the ways ``%`` could split the value).
- **``Not``** is plain negation, so ``Not(Compare("a", "gt", 3))`` matches records without ``a``.

LlamaIndex mapping: each of its 14 ``FilterOperator`` values is the AST op of the same name (``==`` ->
``eq``, ``!=`` -> ``ne``, ``>`` -> ``gt``, ... ``is_empty`` -> ``Compare(key, "is_empty", True)``), and
``FilterCondition`` AND/OR/NOT map to ``And``/``Or``/``Not(Or(...))``. Results agree with
``build_metadata_filter_fn`` except where it raises ``TypeError`` (we return a non-match), where it
treats ``bool`` as ``int``, and where it orders lists or tests key membership in dicts (we do not).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

from vecvault.errors import UnsupportedFilterError
from vecvault.records import MAX_METADATA_DEPTH

__all__ = [
    "COMPARISON_OPERATORS",
    "DICT_OPERATORS",
    "LOGICAL_OPERATORS",
    "MAX_FILTER_DEPTH",
    "And",
    "Compare",
    "Filter",
    "MetadataTable",
    "Not",
    "Or",
    "evaluate",
    "parse_filter",
]

BoolArray: TypeAlias = npt.NDArray[np.bool_]

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

# Largest magnitude below which every int is exactly a float64.
_EXACT_FLOAT_INT: Final = 2**53


# --------------------------------------------------------------------------------------------------
# JSON equality and its hashable canonical key


def _json_eq(a: Any, b: Any) -> bool:
    """JSON equality: bool distinct from numbers, ints and floats by value, lists and dicts deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)):
        return isinstance(b, (int, float)) and _plain_number(a) == _plain_number(b)
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple)) and len(a) == len(b) and all(_json_eq(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and len(a) == len(b) and all(k in b and _json_eq(v, b[k]) for k, v in a.items())
    if a is None:
        return b is None
    return False


class _UnkeyableError(Exception):
    """A value with no canonical key (NaN somewhere, or a non-JSON type); rows holding one are re-checked."""


# Tags of the canonical key; the numbers only need to differ.
_K_NONE, _K_BOOL, _K_NUM, _K_STR, _K_LIST, _K_DICT = range(6)


def _key(value: Any) -> Hashable:
    """Return a hashable key that is equal for two values exactly when ``_json_eq`` holds.

    Raises:
        _UnkeyableError: for NaN (anywhere inside the value) and for non-JSON types.
    """
    if value is None:
        return (_K_NONE,)
    if isinstance(value, bool):
        return (_K_BOOL, bool(value))
    if isinstance(value, int):
        return (_K_NUM, int(value))
    if isinstance(value, float):
        if value != value:
            raise _UnkeyableError
        return (_K_NUM, float(value))
    if isinstance(value, str):
        return (_K_STR, str(value))
    if isinstance(value, (list, tuple)):
        return (_K_LIST, tuple(_key(v) for v in value))
    if isinstance(value, Mapping):
        return (_K_DICT, frozenset((k, _key(v)) for k, v in value.items()))
    raise _UnkeyableError


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain_number(value: int | float) -> int | float:
    """The builtin int or float behind a subclass (numpy's float64 would overflow against huge ints)."""
    return float(value) if isinstance(value, float) else int(value)


# --------------------------------------------------------------------------------------------------
# Operators as data: each takes (stored value or None when absent, filter value) and returns a bool.


def _op_eq(stored: Any, value: Any) -> bool:
    return stored is not None and value is not None and _json_eq(stored, value)


def _op_ne(stored: Any, value: Any) -> bool:
    return not _op_eq(stored, value)


def _ordered(stored: Any, value: Any) -> tuple[Any, Any] | None:
    """The pair to compare when ordering is defined (number/number or str/str), else None."""
    if _is_number(stored):
        return (_plain_number(stored), _plain_number(value)) if _is_number(value) else None
    if isinstance(stored, str) and isinstance(value, str):
        return str(stored), str(value)
    return None


def _op_gt(stored: Any, value: Any) -> bool:
    pair = _ordered(stored, value)
    return pair is not None and bool(pair[0] > pair[1])


def _op_gte(stored: Any, value: Any) -> bool:
    pair = _ordered(stored, value)
    return pair is not None and bool(pair[0] >= pair[1])


def _op_lt(stored: Any, value: Any) -> bool:
    pair = _ordered(stored, value)
    return pair is not None and bool(pair[0] < pair[1])


def _op_lte(stored: Any, value: Any) -> bool:
    pair = _ordered(stored, value)
    return pair is not None and bool(pair[0] <= pair[1])


def _op_in(stored: Any, values: Any) -> bool:
    return stored is not None and any(_json_eq(stored, v) for v in values)


def _op_nin(stored: Any, values: Any) -> bool:
    return not _op_in(stored, values)


def _op_contains(stored: Any, value: Any) -> bool:
    if isinstance(stored, str):
        return isinstance(value, str) and value in stored
    if isinstance(stored, (list, tuple)):
        return value is not None and any(_json_eq(item, value) for item in stored)
    return False


def _op_any(stored: Any, values: Any) -> bool:
    return any(_op_contains(stored, v) for v in values)


def _op_all(stored: Any, values: Any) -> bool:
    return stored is not None and all(_op_contains(stored, v) for v in values)


def _op_text_match(stored: Any, value: Any) -> bool:
    return isinstance(stored, str) and isinstance(value, str) and value in stored


def _op_text_match_insensitive(stored: Any, value: Any) -> bool:
    return isinstance(stored, str) and isinstance(value, str) and value.lower() in stored.lower()


# A LIKE pattern, compiled: the regexes of its segments between unescaped ``%`` and their lengths.
_LikeSegments: TypeAlias = tuple[tuple[re.Pattern[str], int], ...]


@lru_cache(maxsize=512)
def _like_segments(pattern: str, ignore_case: bool) -> _LikeSegments:
    """Split a SQL LIKE pattern (``%``, ``_``, backslash escape) at its unescaped ``%``, one regex per segment.

    A segment holds only literals and ``_`` (``.``), so its regex has no repetition and matches exactly
    as many characters as it has tokens (``re.IGNORECASE`` folds one character to one character).
    """
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    segments: list[tuple[re.Pattern[str], int]] = []
    tokens: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "%":
            segments.append((re.compile("".join(tokens), flags), len(tokens)))
            tokens = []
        elif ch == "\\":
            tokens.append(re.escape(next(chars, "\\")))
        elif ch == "_":
            tokens.append(".")
        else:
            tokens.append(re.escape(ch))
    segments.append((re.compile("".join(tokens), flags), len(tokens)))
    return tuple(segments)


def _like_match(segments: _LikeSegments, text: str) -> bool:
    """Whether all of ``text`` matches the segments of a LIKE pattern, in O(len(text) * len(pattern)).

    The first segment must match at the start and the last one at the end; every segment in between goes
    at its leftmost match after the one before. Leftmost is always right, because segments have fixed
    lengths: an earlier place leaves at least as much text for the rest. Each segment is searched once,
    so no pattern backtracks, where one regex with ``.*`` for each ``%`` tries every way to split the
    text (``'%a' * 8 + '%b'`` took 89 s on 64 characters that way).
    """
    if len(segments) == 1:
        return segments[0][0].fullmatch(text) is not None
    (first, start), *middle, (last, last_length) = segments
    end = len(text) - last_length
    if end < start or first.match(text) is None or last.fullmatch(text, end) is None:
        return False
    for regex, length in middle:
        if length:
            found = regex.search(text, start, end)
            if found is None:
                return False
            start = found.end()
    return True


def _op_like(stored: Any, value: Any) -> bool:
    return isinstance(stored, str) and isinstance(value, str) and _like_match(_like_segments(value, False), stored)


def _op_ilike(stored: Any, value: Any) -> bool:
    return isinstance(stored, str) and isinstance(value, str) and _like_match(_like_segments(value, True), stored)


def _op_exists(stored: Any, value: Any) -> bool:
    return (stored is not None) == bool(value)


def _is_empty(stored: Any) -> bool:
    if stored is None:
        return True
    if isinstance(stored, str):
        return stored == ""
    return isinstance(stored, (list, tuple)) and len(stored) == 0


def _op_is_empty(stored: Any, value: Any) -> bool:
    return _is_empty(stored) == bool(value)


COMPARISON_OPERATORS: Final[Mapping[str, Callable[[Any, Any], bool]]] = MappingProxyType(
    {
        "eq": _op_eq,
        "ne": _op_ne,
        "gt": _op_gt,
        "gte": _op_gte,
        "lt": _op_lt,
        "lte": _op_lte,
        "in": _op_in,
        "nin": _op_nin,
        "contains": _op_contains,
        "any": _op_any,
        "all": _op_all,
        "text_match": _op_text_match,
        "text_match_insensitive": _op_text_match_insensitive,
        "like": _op_like,
        "ilike": _op_ilike,
        "exists": _op_exists,
        "is_empty": _op_is_empty,
    }
)
"""AST comparison operators and their reference meaning: ``fn(stored or None, filter value) -> bool``.

``exists`` is the one operator that tells a missing key from one holding ``None``: ``evaluate`` and
``MetadataTable.mask`` decide it from the key's presence; its function here sees ``None`` for both.
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


# --------------------------------------------------------------------------------------------------
# The AST


class _TooDeepError(Exception):
    """A filter value nests lists and dicts deeper than ``MAX_METADATA_DEPTH``."""


def _is_json(value: Any, *, depth: int = 0) -> bool:
    """Whether ``value`` is JSON; ``depth`` counts the lists and dicts around it.

    Raises:
        _TooDeepError: when a list or dict sits deeper than ``MAX_METADATA_DEPTH``.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if not isinstance(value, (list, tuple, Mapping)):
        return False
    if depth >= MAX_METADATA_DEPTH:
        raise _TooDeepError
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_json(v, depth=depth + 1) for k, v in value.items())
    return all(_is_json(v, depth=depth + 1) for v in value)


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
    try:
        is_json = _is_json(value)
    except _TooDeepError:
        raise UnsupportedFilterError(
            f"{where} takes a value that nests lists and dicts more than {MAX_METADATA_DEPTH} levels deep "
            "(vecvault.records.MAX_METADATA_DEPTH), deeper than any stored metadata, so it could never match; "
            "compare with a shallower value."
        ) from None
    if not is_json:
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


# --------------------------------------------------------------------------------------------------
# The dict parser


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


# The parser counts ``depth``, the levels of And/Or/Not above the part it parses, and calls ``_deeper`` for
# every level it opens before it parses what is inside: so it refuses a deep filter before it recurses
# into it, and counts at least the depth of the tree it builds (more only for one-element $and/$or lists,
# which add no node).


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


# --------------------------------------------------------------------------------------------------
# The reference evaluator


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


# --------------------------------------------------------------------------------------------------
# The columnar evaluator

_ABSENT: Final = 0  # code of a missing key
_UNKEYABLE: Final = 1  # code of a value without canonical key (NaN inside, non-JSON type)
_NULL: Final = 2  # code of a key holding None: absent to every operator but ``exists``
_MIN_CAPACITY: Final = 16

_NUMPY_COMPARISONS: Final[Mapping[str, Callable[[npt.NDArray[np.float64], float], BoolArray]]] = MappingProxyType(
    {
        "gt": np.greater,
        "gte": np.greater_equal,
        "lt": np.less,
        "lte": np.less_equal,
    }
)


class _FieldIndex:
    """Per-field columns over the rows of a ``MetadataTable``, maintained incrementally.

    ``codes[i]`` is a dense id of row i's value under JSON equality (``_ABSENT``, ``_UNKEYABLE`` or an
    index into ``reps``); ``numbers[i]`` its float64 value when it is a number exactly representable
    as a float (NaN otherwise); ``inexact[i]`` marks ints too large for float64, which are re-checked
    one by one, as are ``_UNKEYABLE`` rows.
    """

    __slots__ = ("codes", "inexact", "key_to_code", "n", "n_inexact", "n_unkeyable", "numbers", "reps")

    def __init__(self, values: Iterable[Any], count: int) -> None:
        capacity = max(_MIN_CAPACITY, count)
        self.codes = np.zeros(capacity, dtype=np.int32)
        self.numbers = np.full(capacity, np.nan, dtype=np.float64)
        self.inexact = np.zeros(capacity, dtype=np.bool_)
        self.key_to_code: dict[Hashable, int] = {}
        self.reps: list[Any] = [None, None, None]
        self.n = 0
        self.n_unkeyable = 0
        self.n_inexact = 0
        for value in values:
            self.append(value)

    def _write(self, row: int, value: Any) -> None:
        code, number, inexact = _ABSENT, np.nan, False
        if value is None:
            code = _NULL
        elif value is not _MISSING:
            try:
                key = _key(value)
            except (_UnkeyableError, RecursionError):
                code = _UNKEYABLE
            else:
                found = self.key_to_code.get(key)
                if found is None:
                    found = len(self.reps)
                    self.reps.append(value)
                    self.key_to_code[key] = found
                code = found
            if _is_number(value):
                if isinstance(value, float) or -_EXACT_FLOAT_INT <= value <= _EXACT_FLOAT_INT:
                    number = float(value)
                else:
                    inexact = True
        self.codes[row] = code
        self.numbers[row] = number
        self.inexact[row] = inexact
        self.n_unkeyable += code == _UNKEYABLE
        self.n_inexact += inexact

    def _forget(self, row: int) -> None:
        self.n_unkeyable -= int(self.codes[row] == _UNKEYABLE)
        self.n_inexact -= int(self.inexact[row])

    def append(self, value: Any) -> None:
        if self.n == len(self.codes):
            capacity = 2 * len(self.codes)
            self.codes = np.resize(self.codes, capacity)
            self.numbers = np.resize(self.numbers, capacity)
            self.inexact = np.resize(self.inexact, capacity)
        self._write(self.n, value)
        self.n += 1

    def replace(self, row: int, value: Any) -> None:
        self._forget(row)
        self._write(row, value)

    def swap_remove(self, row: int) -> None:
        last = self.n - 1
        self._forget(row)
        if row != last:
            self.codes[row] = self.codes[last]
            self.numbers[row] = self.numbers[last]
            self.inexact[row] = self.inexact[last]
        self.n = last

    def is_bloated(self) -> bool:
        """Whether stale distinct values dominate (then the table rebuilds this index)."""
        return len(self.reps) > 2 * self.n + 1024


class MetadataTable:
    """Decrypted metadata of one collection by row position, with fast vectorised filtering.

    Rows are numbered 0..n-1 in the same order as the vectors of the index; ``swap_remove`` mirrors the
    index's delete (the last row moves into the hole). ``mask(filter)`` returns a numpy bool array that
    agrees exactly with ``evaluate`` on every row. Per-field columns are built the first time a field is
    filtered on and then maintained on every write: equality, ``in``, ``exists`` and numeric ranges are
    a single numpy pass over them; the other operators are evaluated once per distinct value of the
    field and broadcast.

    Stored metadata is a shallow copy of what is passed in; ``get`` returns a read-only view of it. Do
    not mutate nested lists or dicts of stored metadata in place: ``replace`` the row instead.

    Example:
        .. code-block:: python

            from vecvault.filters import MetadataTable, parse_filter

            table = MetadataTable([{"year": 1999}, {"year": 2005}])
            table.mask(parse_filter({"year": {"$gt": 2000}}))  # array([False,  True])
    """

    def __init__(self, rows: Iterable[Mapping[str, Any]] = ()) -> None:
        """Create a table, optionally filled with ``rows`` in order."""
        self._rows: list[dict[str, Any]] = [dict(md) for md in rows]
        self._fields: dict[str, _FieldIndex] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def _check_row(self, row: int) -> None:
        if not 0 <= row < len(self._rows):
            raise IndexError(f"Row {row} is out of range for a table of {len(self._rows)} rows.")

    def append(self, md: Mapping[str, Any]) -> None:
        """Add a row at position ``len(self)``."""
        stored = dict(md)
        self._rows.append(stored)
        for name, index in self._fields.items():
            index.append(_resolve_field(stored, name))

    def replace(self, row: int, md: Mapping[str, Any]) -> None:
        """Replace the metadata of ``row``.

        Raises:
            IndexError: if ``row`` is not in ``0..len(self)-1``.
        """
        self._check_row(row)
        stored = dict(md)
        self._rows[row] = stored
        for name, index in list(self._fields.items()):
            index.replace(row, _resolve_field(stored, name))
            if index.is_bloated():
                del self._fields[name]

    def swap_remove(self, row: int) -> None:
        """Remove ``row`` by moving the last row into its place and shrinking by one.

        Raises:
            IndexError: if ``row`` is not in ``0..len(self)-1``.
        """
        self._check_row(row)
        last = self._rows.pop()
        if row < len(self._rows):
            self._rows[row] = last
        for name, index in list(self._fields.items()):
            index.swap_remove(row)
            if index.is_bloated():
                del self._fields[name]

    def clear(self) -> None:
        """Remove every row."""
        self._rows.clear()
        self._fields.clear()

    def get(self, row: int) -> Mapping[str, Any]:
        """Read-only view of the metadata of ``row``.

        Raises:
            IndexError: if ``row`` is not in ``0..len(self)-1``.
        """
        self._check_row(row)
        return MappingProxyType(self._rows[row])

    def mask(self, filter: Filter | None) -> BoolArray:
        """Boolean array of length ``len(self)``: True where the row matches ``filter``.

        Args:
            filter: An AST node, or ``None`` for "everything matches".

        Returns:
            A fresh array the caller may modify; ``mask(f)[i] == evaluate(f, self.get(i))`` for every i.

        Raises:
            UnsupportedFilterError: if ``filter`` is not an AST node.
        """
        if filter is None:
            return np.ones(len(self._rows), dtype=np.bool_)
        return self._mask(filter)

    def _mask(self, node: Filter) -> BoolArray:
        if isinstance(node, Compare):
            return self._compare_mask(node)
        if isinstance(node, And):
            result = self._mask(node.children[0])
            for child in node.children[1:]:
                result &= self._mask(child)
            return result
        if isinstance(node, Or):
            result = self._mask(node.children[0])
            for child in node.children[1:]:
                result |= self._mask(child)
            return result
        if isinstance(node, Not):
            result = self._mask(node.child)
            np.logical_not(result, out=result)
            return result
        raise UnsupportedFilterError(
            f"mask() takes a Compare, And, Or or Not node, got {type(node).__name__}; "
            "use parse_filter() on dicts first."
        )

    def _field(self, name: str) -> _FieldIndex:
        index = self._fields.get(name)
        if index is None:
            index = _FieldIndex((_resolve_field(row, name) for row in self._rows), len(self._rows))
            self._fields[name] = index
        return index

    def _compare_mask(self, node: Compare) -> BoolArray:
        index = self._field(node.field)
        op, value = node.op, node.value
        n = index.n
        codes = index.codes[:n]
        recheck: npt.NDArray[np.intp] | None = None
        if op in ("ne", "nin"):
            result = self._compare_mask(Compare(node.field, "eq" if op == "ne" else "in", value))
            np.logical_not(result, out=result)
            return result
        if op in ("eq", "in"):
            wanted = [_lookup(index, v) for v in ((value,) if op == "eq" else value)]
            found = np.array([c for c in wanted if c is not None], dtype=np.int32)
            if len(found) == 0:
                result = np.zeros(n, dtype=np.bool_)
            elif len(found) == 1:
                result = codes == found[0]
            else:
                lut = np.zeros(len(index.reps), dtype=np.bool_)
                lut[found] = True
                result = lut[codes]
        elif op == "exists":
            result = codes != _ABSENT if value else codes == _ABSENT
        elif (
            op in _NUMPY_COMPARISONS
            and _is_number(value)
            and (isinstance(value, float) or abs(value) <= _EXACT_FLOAT_INT)
        ):
            # NaN (missing, non-number) never compares true, which is the wanted answer for those rows.
            result = _NUMPY_COMPARISONS[op](index.numbers[:n], float(value))
            if index.n_inexact:
                recheck = np.flatnonzero(index.inexact[:n])
        elif op in _NUMPY_COMPARISONS and _is_number(value):
            # A huge int operand: float64 would round it, so compare numbers exactly in Python.
            result = np.zeros(n, dtype=np.bool_)
            recheck = np.flatnonzero(~np.isnan(index.numbers[:n]) | index.inexact[:n])
        else:
            # Any operator is a function of the value alone: evaluate once per distinct value.
            fn = COMPARISON_OPERATORS[op]
            lut = np.fromiter((fn(rep, value) for rep in index.reps), dtype=np.bool_, count=len(index.reps))
            lut[_UNKEYABLE] = False
            result = lut[codes]
        if index.n_unkeyable:
            unkeyable = np.flatnonzero(codes == _UNKEYABLE)
            recheck = unkeyable if recheck is None else np.union1d(recheck, unkeyable)
        if recheck is not None and len(recheck):
            rows, field = self._rows, node.field
            result[recheck] = [_compare(op, _resolve_field(rows[i], field), value) for i in recheck.tolist()]
        return result


def _lookup(index: _FieldIndex, value: Any) -> int | None:
    """Code of ``value`` in ``index`` (None when no row holds an equal value)."""
    if value is None:
        return None
    try:
        return index.key_to_code.get(_key(value))
    except (_UnkeyableError, RecursionError):
        return None
