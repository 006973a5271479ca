"""Sealed records and the deletion log (``vv_records``, ``vv_deletions``)."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Iterator, Sequence
from typing import Any

from vecvault.errors import (
    ConfigurationError,
)
from vecvault.storage._sql import (
    _LOCAL_ROWS_PER_INSERT,
    _blob,
    _checked_columns,
    _chunks,
)
from vecvault.storage.connection import Connection

_RECORDS_INSERT = "INSERT OR REPLACE INTO vv_records (collection, id, rev, key_id, text, metadata, vector, updated_at)"


@functools.lru_cache(maxsize=4)
def _records_insert_group(count: int) -> str:
    """An insert of ``count`` records that binds the shared values once.

    ``?1`` to ``?4`` are the collection, rev, key id and time; then each record binds its id, text,
    metadata and vector. Only placeholders are built into the text, never a value.
    """
    rows = ", ".join(f"(?1, ?{5 + 4 * i}, ?2, ?3, ?{6 + 4 * i}, ?{7 + 4 * i}, ?{8 + 4 * i}, ?4)" for i in range(count))
    return f"{_RECORDS_INSERT} VALUES {rows}"


_SEALED_FIELDS = ("text", "metadata", "vector")


class RecordsSQL(Connection):
    """Sealed records and the deletion log (``vv_records``, ``vv_deletions``)."""

    def upsert_records(
        self,
        collection: str,
        rev: int,
        key_id: int,
        ids: Sequence[str],
        texts: Sequence[bytes],
        metadatas: Sequence[bytes],
        vectors: Sequence[bytes],
    ) -> None:
        """Insert or replace sealed records, given column by column (inside a write transaction)."""
        now = time.time()
        if not len(ids) == len(texts) == len(metadatas) == len(vectors):
            raise ConfigurationError("upsert_records needs one text, metadata and vector per id.")
        start = 0
        if not self.remote and len(ids) >= _LOCAL_ROWS_PER_INSERT:
            # Whole groups as multi-row statements that bind the four shared values once per group: the
            # binding's per-parameter cost is a sixth of a local bulk add.
            sql = _records_insert_group(_LOCAL_ROWS_PER_INSERT)
            shared = (collection, rev, key_id, now)
            while start + _LOCAL_ROWS_PER_INSERT <= len(ids):
                end = start + _LOCAL_ROWS_PER_INSERT
                self._run_multi(
                    sql,
                    shared
                    + tuple(
                        itertools.chain.from_iterable(
                            zip(ids[start:end], texts[start:end], metadatas[start:end], vectors[start:end], strict=True)
                        )
                    ),
                )
                start = end
        if start < len(ids):
            self.execute_many(
                f"{_RECORDS_INSERT} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (collection, record_id, rev, key_id, text, metadata, vector, now)
                    for record_id, text, metadata, vector in zip(
                        ids[start:], texts[start:], metadatas[start:], vectors[start:], strict=True
                    )
                ],
            )
        if self.query("SELECT 1 FROM vv_deletions WHERE collection = ? LIMIT 1", (collection,)):
            # A re-added id must leave the deletion log, or readers would drop it again.
            self.execute_many(
                "DELETE FROM vv_deletions WHERE collection = ? AND id = ?", [(collection, i) for i in ids]
            )

    def existing_ids(self, collection: str, ids: Sequence[str]) -> list[str]:
        """The subset of ``ids`` stored in the collection."""
        found: list[str] = []
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            found.extend(
                str(r[0])
                for r in self.query(
                    f"SELECT id FROM vv_records WHERE collection = ? AND id IN ({marks})",  # noqa: S608 (placeholders only)
                    (collection, *chunk),
                )
            )
        return found

    def delete_records(self, collection: str, ids: Sequence[str], rev: int) -> int:
        """Delete records by id, logging each for other readers (inside a write transaction)."""
        present = self.existing_ids(collection, ids)
        if not present:
            return 0
        self.execute_many("DELETE FROM vv_records WHERE collection = ? AND id = ?", [(collection, i) for i in present])
        self.execute_many(
            "INSERT OR REPLACE INTO vv_deletions (collection, id, rev) VALUES (?, ?, ?)",
            [(collection, i, rev) for i in present],
        )
        # A stored HNSW graph names the deleted ids and a mirror snapshot holds their vectors (both sealed):
        # drop them, so nothing of a deleted record stays in the file; they are stored again without it.
        self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
        self.query("DELETE FROM vv_snapshots WHERE collection = ?", (collection,))
        return len(present)

    def clear_records(self, collection: str) -> int:
        """Delete every record of a collection (inside a write transaction); readers reload on the new epoch."""
        count = int(self.query("SELECT count(*) FROM vv_records WHERE collection = ?", (collection,))[0][0])
        self.query("DELETE FROM vv_records WHERE collection = ?", (collection,))
        self.query("DELETE FROM vv_deletions WHERE collection = ?", (collection,))
        self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
        self.query("DELETE FROM vv_snapshots WHERE collection = ?", (collection,))
        return count

    def prune_deletions(self, collection: str, keep: int) -> bool:
        """Forget the deletion log once it grows past ``keep`` rows; True if readers must fully reload."""
        count = int(self.query("SELECT count(*) FROM vv_deletions WHERE collection = ?", (collection,))[0][0])
        if count <= keep:
            return False
        self.query("DELETE FROM vv_deletions WHERE collection = ?", (collection,))
        return True

    def count(self, collection: str) -> int:
        """Number of records in a collection."""
        return int(self.query("SELECT count(*) FROM vv_records WHERE collection = ?", (collection,))[0][0])

    def fetch(self, collection: str, ids: Sequence[str], columns: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """Fetch ``columns`` (from id, rev, key_id, text, metadata, vector) of the given records by id."""
        cols = _checked_columns(columns)
        out: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, {cols} FROM vv_records WHERE collection = ? AND id IN ({marks})"  # noqa: S608
            for row in self.query(sql, (collection, *chunk)):
                out[str(row[0])] = tuple(row[1:])
        return out

    def scan(self, collection: str, columns: Sequence[str], *, since_rev: int | None = None) -> list[tuple[Any, ...]]:
        """Every record's ``(id, *columns)``, optionally only those written after ``since_rev``."""
        cols = _checked_columns(columns)
        if since_rev is None:
            sql = f"SELECT id, {cols} FROM vv_records WHERE collection = ?"  # noqa: S608
            return self.query(sql, (collection,))
        sql = f"SELECT id, {cols} FROM vv_records WHERE collection = ? AND rev > ?"  # noqa: S608
        return self.query(sql, (collection, since_rev))

    def scan_pages(
        self, collection: str, columns: Sequence[str], *, page: int = 4096
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Every record's ``(id, *columns)`` in pages of at most ``page`` rows, in storage order.

        Keyset pagination on the rowid (the table's own order, no index lookups): a load holds one page of
        sealed blobs at a time instead of the whole collection (run it inside :meth:`snapshot` for a
        consistent view).
        """
        cols = _checked_columns(columns)
        sql = (
            # "+collection" keeps SQLite on the rowid range instead of an index on collection plus a sort per page.
            f"SELECT rowid, id, {cols} FROM vv_records WHERE +collection = ? AND rowid > ? "  # noqa: S608
            "ORDER BY rowid LIMIT ?"
        )
        after = 0
        while True:
            rows = self.query(sql, (collection, after, page))
            if not rows:
                return
            yield [tuple(r[1:]) for r in rows]
            if len(rows) < page:
                return
            after = int(rows[-1][0])

    def records_after(
        self, collection: str, columns: Sequence[str], after_id: str, limit: int
    ) -> list[tuple[Any, ...]]:
        """Up to ``limit`` records' ``(id, *columns)`` with ids after ``after_id``, in id order.

        A walk that can resume from the last id it saw (``verify``), each page its own statement.
        """
        cols = _checked_columns(columns)
        sql = f"SELECT id, {cols} FROM vv_records WHERE collection = ? AND id > ? ORDER BY id LIMIT ?"  # noqa: S608
        return self.query(sql, (collection, after_id, int(limit)))

    def deletions_since(self, collection: str, rev: int) -> list[str]:
        """Ids deleted after ``rev``."""
        rows = self.query("SELECT id FROM vv_deletions WHERE collection = ? AND rev > ?", (collection, rev))
        return [str(r[0]) for r in rows]

    def records_per_key(self) -> dict[int, int]:
        """How many records each data key id is recorded under, by the plaintext ``key_id`` column.

        For display only (``vecvault info``): what may be destroyed is decided from the sealed headers.
        """
        return {int(r[0]): int(r[1]) for r in self.query("SELECT key_id, count(*) FROM vv_records GROUP BY key_id")}

    def count_naming_keys(self, collection: str, key_ids: Sequence[int]) -> int:
        """Records of a collection with a sealed field whose (unauthenticated) header names one of ``key_ids``.

        An estimate for progress bars: headers are authenticated only when their fields open.
        """
        if not key_ids:
            return 0
        named = [int(key_id).to_bytes(4, "big") for key_id in key_ids]
        marks = ",".join("?" * len(named))
        header_names = " OR ".join(f"substr({_blob(column)}, 2, 4) IN ({marks})" for column in _SEALED_FIELDS)
        sql = f"SELECT count(*) FROM vv_records WHERE collection = ? AND ({header_names})"  # noqa: S608
        return int(self.query(sql, (collection, *named, *named, *named))[0][0])

    def rotation_page(self, collection: str, after_rowid: int, limit: int) -> list[tuple[Any, ...]]:
        """The next ``limit`` records of a collection past ``after_rowid``, in rowid order.

        Rows are ``(rowid, id, rev, key_id, text, metadata, vector)``. The rowid range is the table's own
        order (no index on key_id: adds would pay for one), and the unary ``+`` keeps SQLite from walking
        the (collection, id) index instead.
        """
        sql = (
            f"SELECT rowid, id, rev, key_id, {_blob('text')}, {_blob('metadata')}, {_blob('vector')} "  # noqa: S608
            "FROM vv_records WHERE rowid > ? AND +collection = ? ORDER BY rowid LIMIT ?"
        )
        return self.query(sql, (after_rowid, collection, int(limit)))

    def reseal_records(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Compare-and-swap re-sealed records (inside a write transaction).

        Each row is ``(key_id, text, metadata, vector, rev, updated_at, collection, id, old_key_id,
        old_rev)``: a record rewritten or deleted since it was read is left alone.
        """
        self.execute_many(
            "UPDATE vv_records SET key_id = ?, text = ?, metadata = ?, vector = ?, rev = ?, updated_at = ? "
            "WHERE collection = ? AND id = ? AND key_id = ? AND rev = ?",
            rows,
        )

    def all_ids(self, collection: str) -> list[str]:
        """Every record id of a collection."""
        return [str(r[0]) for r in self.query("SELECT id FROM vv_records WHERE collection = ?", (collection,))]
