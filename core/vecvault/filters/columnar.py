"""Columnar evaluation: a filter as a numpy mask over many records' metadata, kept in step with writes."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from vecvault.errors import UnsupportedFilterError
from vecvault.filters.ast import And, Compare, Filter, Not, Or
from vecvault.filters.compare import (
    _EXACT_FLOAT_INT,
    COMPARISON_OPERATORS,
    BoolArray,
    _is_number,
    _key,
    _UnkeyableError,
)
from vecvault.filters.evaluate import _MISSING, _compare, _resolve_field

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
