"""The one check of JSON values, shared by metadata (:mod:`vecvault.records`) and filter values.

Metadata and the values filters compare it with follow one rule: strings, ints, finite floats, bools,
None, and lists and dicts of them with string keys, nested at most :data:`MAX_METADATA_DEPTH` levels;
dates and times (stored as ISO 8601 strings) are reported as such so each caller can apply its own rule.
Each caller turns a :class:`JsonProblem` into its own typed error and message.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DATE_TYPES", "MAX_METADATA_DEPTH", "JsonProblem", "json_problem"]

MAX_METADATA_DEPTH = 64
"""How deep lists and dicts may nest inside a metadata dict (or a filter value): far below Python's stack."""

DATE_TYPES = (datetime.date, datetime.time)  # datetime.datetime is a date


@dataclass(frozen=True)
class JsonProblem:
    """Why a value is not storable JSON.

    Attributes:
        kind: ``"not-finite"`` (NaN or infinity), ``"key"`` (a dict key that is not a string), ``"deep"``
            (nested deeper than :data:`MAX_METADATA_DEPTH`, or containing itself) or ``"type"``.
        path: where, as the caller named the value (``metadatas[3]['tags'][0]``).
        value: the offending value (or dict key), for the caller's message only.
    """

    kind: str
    path: str
    value: Any


class _ProblemError(Exception):
    """Internal: carries the first problem out of the recursive walk."""

    def __init__(self, problem: JsonProblem) -> None:
        self.problem = problem


def json_problem(
    value: Any, path: str, *, depth: int = 0, dates: bool = True, finite: bool = True
) -> tuple[JsonProblem | None, bool]:
    """Check a value; ``depth`` is 0 for a metadata dict (1 for its values and for a filter's value).

    Args:
        value: the value.
        path: how messages name it.
        depth: how many lists and dicts already surround it.
        dates: accept dates and times (metadata converts them); False reports them as ``"type"``.
        finite: report NaN and infinity (JSON cannot store them); False accepts them (a filter may
            compare with infinity, and NaN equals nothing).

    Returns:
        The first problem found (None if there is none), and whether the value holds dates or times.
    """
    try:
        return None, _walk(value, path, depth, dates, finite)
    except _ProblemError as found:
        return found.problem, False


def _walk(value: Any, path: str, depth: int, dates: bool, finite: bool) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return False
    if isinstance(value, float):
        if finite and not math.isfinite(value):
            raise _ProblemError(JsonProblem("not-finite", path, value))
        return False
    if isinstance(value, DATE_TYPES):
        if not dates:
            raise _ProblemError(JsonProblem("type", path, value))
        return True
    if isinstance(value, (Mapping, list, tuple)) and depth > MAX_METADATA_DEPTH:
        raise _ProblemError(JsonProblem("deep", path, value))
    found = False
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _ProblemError(JsonProblem("key", path, key))
            found |= _walk(item, f"{path}[{key!r}]", depth + 1, dates, finite)
        return found
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found |= _walk(item, f"{path}[{i}]", depth + 1, dates, finite)
        return found
    raise _ProblemError(JsonProblem("type", path, value))
