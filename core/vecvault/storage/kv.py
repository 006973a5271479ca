"""Sealed key-value namespaces (``vv_kv_namespaces``, ``vv_kv``).

Each entry is one row: its namespace (plaintext, like a collection name), its ``lookup`` (a keyed blind
index of the key: an HMAC under a subkey of the namespace's data key, see :mod:`vecvault.kv`), the write
version ``rev`` and data key id (plaintext hints), and two sealed fields, ``key`` and ``value``. Nothing
here sees a key or a value in the clear.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from vecvault.errors import ConfigurationError, StorageError
from vecvault.storage._sql import _LOCAL_ROWS_PER_INSERT, _blob, _chunks
from vecvault.storage.connection import Connection

__all__ = ["KvRow", "KvSQL"]

_FETCH_CHUNK = 500

_SELECT = f"SELECT rowid, {_blob('lookup')}, rev, key_id, {_blob('key')}, {_blob('value')} FROM vv_kv"  # noqa: S608

_SELECT_VALUES = f"SELECT {_blob('lookup')}, rev, {_blob('value')} FROM vv_kv"  # noqa: S608


class KvRow(NamedTuple):
    """One stored entry: blind-index lookup, write version, key id hint and the two sealed fields."""

    rowid: int
    lookup: bytes
    rev: Any
    key_id: Any
    key: Any
    value: Any


def _kv_row(r: Sequence[Any]) -> KvRow:
    lookup = r[1] if isinstance(r[1], bytes) else b""
    return KvRow(int(r[0]), lookup, r[2], r[3], r[4], r[5])


_UPSERT = "INSERT OR REPLACE INTO vv_kv (namespace, lookup, rev, key_id, key, value)"


# Entries per local upsert statement, as for records. Measured on 100-entry batches of 1 KiB values,
# interleaved: 32 per statement 1.01 ms a batch, 128 (one statement) 1.03 ms.
_UPSERT_ROWS = _LOCAL_ROWS_PER_INSERT


@functools.lru_cache(maxsize=64)
def _upsert_group(count: int) -> str:
    """An upsert of ``count`` entries binding the shared namespace, rev and key id once (``?1`` to ``?3``)."""
    rows = ", ".join(f"(?1, ?{4 + 3 * i}, ?2, ?3, ?{5 + 3 * i}, ?{6 + 3 * i})" for i in range(count))
    return f"{_UPSERT} VALUES {rows}"


class KvSQL(Connection):
    """Sealed key-value namespaces and their entries (``vv_kv_namespaces``, ``vv_kv``)."""

    def kv_namespaces(self) -> list[tuple[str, int]]:
        """Every key-value namespace with its entry count, by name."""
        rows = self.query(
            "SELECT n.name, (SELECT count(*) FROM vv_kv k WHERE k.namespace = n.name) FROM vv_kv_namespaces n "
            "ORDER BY n.name"
        )
        return [(str(r[0]), int(r[1])) for r in rows]

    def kv_namespace_exists(self, name: str) -> bool:
        """Whether a key-value namespace of this name exists."""
        return bool(self.query("SELECT 1 FROM vv_kv_namespaces WHERE name = ?", (name,)))

    def create_kv_namespace(self, name: str) -> None:
        """Create a namespace if it is missing (inside a write transaction).

        Raises:
            ConfigurationError: a collection has this name (collections and namespaces share the names,
                and with them the data keys' scopes).
        """
        if self.query("SELECT 1 FROM vv_collections WHERE name = ?", (name,)):
            raise ConfigurationError(
                f"{name!r} is a collection of this vault; a key-value namespace needs a name no collection uses "
                f"(e.g. {name + '_kv'!r})."
            )
        self.query(
            "INSERT OR IGNORE INTO vv_kv_namespaces (name, rev, created_at) VALUES (?, 0, ?)", (name, time.time())
        )

    def bump_kv_revision(self, name: str) -> int:
        """Advance a namespace's write counter (inside a write transaction); return the new write version."""
        rev = self.try_bump_kv_revision(name)
        if rev is None:
            raise StorageError(f"Key-value namespace {name!r} disappeared while writing; another process shredded it.")
        return rev

    def try_bump_kv_revision(self, name: str) -> int | None:
        """:meth:`bump_kv_revision`, or None if the namespace does not exist.

        Unlike a collection's revision it is not raised above the entries' stored ``rev``s: an entry's two
        fields bind each other (the key field its lookup, the value field its key), so a write version that
        came round again (a counter put back in the file) recombines nothing that was not written together.
        """
        rows = self.query("UPDATE vv_kv_namespaces SET rev = rev + 1 WHERE name = ? RETURNING rev", (name,))
        return int(rows[0][0]) if rows else None

    def kv_fetch(self, namespace: str, lookups: Sequence[bytes]) -> list[tuple[Any, ...]]:
        """``(lookup, rev, sealed value)`` of the stored entries whose lookup is one of ``lookups``.

        No sealed key: a read by key authenticates the value under the key it asked for.
        """
        out: list[tuple[Any, ...]] = []
        for chunk in _chunks(list(lookups), _FETCH_CHUNK):
            marks = ",".join("?" * len(chunk))
            sql = f"{_SELECT_VALUES} WHERE namespace = ? AND lookup IN ({marks})"
            out.extend(self.query(sql, (namespace, *chunk)))
        return out

    def kv_upsert(self, namespace: str, rev: int, key_id: int, rows: Sequence[tuple[bytes, bytes, bytes]]) -> None:
        """Insert or replace ``(lookup, sealed key, sealed value)`` entries (inside a write transaction)."""
        start = 0
        if not self.remote:
            # Multi-row statements binding the shared values once (as records do), up to _UPSERT_ROWS each.
            shared = (namespace, rev, key_id)
            while start < len(rows):
                end = min(len(rows), start + _UPSERT_ROWS)
                params = shared + tuple(itertools.chain.from_iterable(rows[start:end]))
                self._run_multi(_upsert_group(end - start), params)
                start = end
        if start < len(rows):
            self.execute_many(
                f"{_UPSERT} VALUES (?, ?, ?, ?, ?, ?)",
                [(namespace, lookup, rev, key_id, key, value) for lookup, key, value in rows[start:]],
            )

    def kv_delete(self, namespace: str, lookups: Sequence[bytes]) -> int:
        """Delete the entries with these lookups (inside a write transaction); return how many there were."""
        deleted = 0
        for chunk in _chunks(list(lookups), _FETCH_CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = self.query(
                f"DELETE FROM vv_kv WHERE namespace = ? AND lookup IN ({marks}) RETURNING 1",  # noqa: S608
                (namespace, *chunk),
            )
            deleted += len(rows)
        return deleted

    def kv_clear(self, namespace: str) -> int:
        """Delete every entry of a namespace (inside a write transaction); return how many."""
        return len(self.query("DELETE FROM vv_kv WHERE namespace = ? RETURNING 1", (namespace,)))

    def kv_count(self, namespace: str) -> int:
        """Number of entries in a namespace."""
        return int(self.query("SELECT count(*) FROM vv_kv WHERE namespace = ?", (namespace,))[0][0])

    def kv_page(self, namespace: str, after_rowid: int, limit: int) -> list[KvRow]:
        """Up to ``limit`` entries of a namespace past ``after_rowid``, in rowid order (storage order).

        The unary ``+`` keeps SQLite on the rowid range instead of the (namespace, lookup) index.
        """
        sql = f"{_SELECT} WHERE rowid > ? AND +namespace = ? ORDER BY rowid LIMIT ?"
        return [_kv_row(r) for r in self.query(sql, (after_rowid, namespace, int(limit)))]

    def kv_pages(self, namespace: str, *, page: int = 2048) -> Iterator[list[KvRow]]:
        """Every entry of a namespace in pages of at most ``page`` rows (run inside :meth:`snapshot`)."""
        after = 0
        while True:
            rows = self.kv_page(namespace, after, page)
            if not rows:
                return
            yield rows
            if len(rows) < page:
                return
            after = rows[-1].rowid

    def kv_reseal(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Compare-and-swap re-sealed entries (inside a write transaction).

        Each row is ``(lookup, key_id, key, value, rev, namespace, old_lookup, old_key_id, old_rev)``: an
        entry rewritten or deleted since it was read is left alone.
        """
        self.execute_many(
            "UPDATE vv_kv SET lookup = ?, key_id = ?, key = ?, value = ?, rev = ? "
            "WHERE namespace = ? AND lookup = ? AND key_id = ? AND rev = ?",
            rows,
        )

    def kv_count_naming_keys(self, namespace: str, key_ids: Sequence[int]) -> int:
        """Entries with a sealed field whose (unauthenticated) header names one of ``key_ids``: an estimate."""
        if not key_ids:
            return 0
        named = [int(key_id).to_bytes(4, "big") for key_id in key_ids]
        marks = ",".join("?" * len(named))
        sql = (
            f"SELECT count(*) FROM vv_kv WHERE namespace = ? AND (substr({_blob('key')}, 2, 4) IN ({marks}) "  # noqa: S608
            f"OR substr({_blob('value')}, 2, 4) IN ({marks}))"
        )
        return int(self.query(sql, (namespace, *named, *named))[0][0])

    def kv_entries_per_key(self) -> dict[int, int]:
        """How many entries each data key id is recorded under (plaintext hint, for display only)."""
        return {int(r[0]): int(r[1]) for r in self.query("SELECT key_id, count(*) FROM vv_kv GROUP BY key_id")}

    def drop_kv_namespace(self, name: str) -> int:
        """Delete a namespace and its entries (inside a write transaction); return how many entries."""
        count = self.kv_clear(name)
        self.query("DELETE FROM vv_kv_namespaces WHERE name = ?", (name,))
        return count

    def scope_key_states(self, scope: str) -> list[tuple[int, str]]:
        """``(key_id, state)`` of every data key of a scope: a cheap check that the loaded keyset is current."""
        rows = self.query("SELECT key_id, CAST(state AS BLOB) FROM vv_keys WHERE scope = ? ORDER BY key_id", (scope,))
        return [(int(r[0]), bytes(r[1]).decode(errors="replace") if isinstance(r[1], bytes) else "") for r in rows]
