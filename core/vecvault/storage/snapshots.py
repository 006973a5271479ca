"""Sealed mirror snapshots, chunked (``vv_snapshots``), and the record listings that check them.

A snapshot is a cache of a collection's opened vectors (see :mod:`vecvault.search.snapshot`): this module
only stores and reads its sealed chunks, and lists what the records table says about each record's
position and write version, so a loaded snapshot can be checked against the table without reading the
records themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vecvault.storage._sql import _checked_columns
from vecvault.storage.chunks import ChunkRow, ChunksSQL, chunk_row, chunk_table

SNAPSHOT_TABLE = chunk_table("vv_snapshots")


class SnapshotsSQL(ChunksSQL):
    """Sealed mirror snapshots, chunked (``vv_snapshots``), and the record listings that check them."""

    def save_snapshot(self, collection: str, chunks: Iterable[ChunkRow]) -> None:
        """Replace a collection's snapshot by ``(chunk, count, rev, key_id, blob)`` rows (inside a transaction).

        Rows are inserted as ``chunks`` yields them, so a large snapshot is never held twice.
        """
        self._replace_chunks("vv_snapshots", collection, chunks)

    def drop_snapshot(self, collection: str, key_ids: Sequence[int] | None = None) -> None:
        """Delete a collection's snapshot; with ``key_ids``, only if a chunk is sealed under one of them."""
        self._drop_chunks("vv_snapshots", collection, key_ids)

    def snapshot_rev(self, collection: str) -> int | None:
        """The revision a stored snapshot says it reflects (a plaintext hint: its seal binds the real one)."""
        rows = self.query("SELECT rev FROM vv_snapshots WHERE collection = ? AND chunk = 0", (collection,))
        return int(rows[0][0]) if rows and isinstance(rows[0][0], int) else None

    def snapshot_summary(self, collection: str) -> tuple[int | None, int]:
        """A collection's stored snapshot as ``(revision it says it reflects, bytes)``; ``(None, 0)`` for none."""
        rows = self.query("SELECT coalesce(sum(length(blob)), 0) FROM vv_snapshots WHERE collection = ?", (collection,))
        size = int(rows[0][0]) if rows and isinstance(rows[0][0], int) else 0
        return (self.snapshot_rev(collection), size) if size else (None, 0)

    def snapshot_chunk_numbers(self, collection: str) -> list[int]:
        """The chunk numbers a collection's snapshot has, in order."""
        rows = self.query("SELECT chunk FROM vv_snapshots WHERE collection = ? ORDER BY chunk", (collection,))
        return [int(r[0]) for r in rows if isinstance(r[0], int)]

    def snapshot_chunks(self, collection: str, first: int, end: int) -> list[ChunkRow]:
        """Chunks ``first`` to ``end - 1`` of a collection's snapshot, in order, in one statement."""
        rows = self.query(
            "SELECT chunk, count, rev, key_id, CAST(blob AS BLOB) FROM vv_snapshots "
            "WHERE collection = ? AND chunk >= ? AND chunk < ? ORDER BY chunk",
            (collection, first, end),
        )
        return [chunk_row(r) for r in rows]

    def records_with_rowids_since(self, collection: str, columns: Sequence[str], rev: int) -> list[tuple[Any, ...]]:
        """``(id, rowid, *columns)`` of the records written after ``rev`` (by their plaintext ``rev``)."""
        cols = _checked_columns(columns)
        sql = f"SELECT id, rowid, {cols} FROM vv_records WHERE collection = ? AND rev > ?"  # noqa: S608
        return self.query(sql, (collection, rev))

    def record_rowids(self, collection: str) -> list[tuple[Any, ...]]:
        """``(id, rowid)`` of every record of a collection (read from the ``(collection, id)`` index alone)."""
        return self.query("SELECT id, rowid FROM vv_records WHERE collection = ?", (collection,))

    def record_versions(self, collection: str) -> bytes:
        """Every record's ``(rev, rowid)`` as big-endian 8-byte pairs, ordered by rev then rowid.

        Read from the ``(collection, rev)`` index alone (a few bytes per record, never the sealed fields),
        formatted inside SQLite, so checking a snapshot costs a small fraction of reading the records.
        """
        rows = self.query(
            "SELECT group_concat(printf('%016x%016x', rev, rowid), '') FROM "
            "(SELECT rev, rowid FROM vv_records WHERE collection = ? ORDER BY rev, rowid)",
            (collection,),
        )
        text = rows[0][0] if rows else None
        if not isinstance(text, str):
            return b""
        try:
            return bytes.fromhex(text)
        except ValueError:
            return b"\x00"  # not what vecvault formats: the check fails, the snapshot is not used
