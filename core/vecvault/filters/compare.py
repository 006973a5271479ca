"""Value semantics of the comparison operators: JSON equality, ordering, membership, text matching."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

BoolArray: TypeAlias = npt.NDArray[np.bool_]

# Largest magnitude below which every int is exactly a float64.
_EXACT_FLOAT_INT: Final = 2**53


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


# Tags of the canonical key; the numbers only need to differ.
_K_NONE, _K_BOOL, _K_NUM, _K_STR, _K_LIST, _K_DICT = range(6)


class _UnkeyableError(Exception):
    """A value with no canonical key (NaN somewhere, or a non-JSON type); rows holding one are re-checked."""


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
