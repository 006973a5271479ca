"""Sealed HNSW graphs, chunked (``vv_ann``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from vecvault.storage.connection import Connection


def _ann_row(r: Sequence[Any]) -> tuple[int, int, int, int, bytes]:
    # A NULL blob (the column is NOT NULL, so only a rebuilt table holds one) becomes b"": it fails to open.
    return int(r[0]), int(r[1]), int(r[2]), int(r[3]), b"" if r[4] is None else bytes(r[4])


class AnnSQL(Connection):
    """Sealed HNSW graphs, chunked (``vv_ann``)."""

    def save_ann(self, collection: str, chunks: Iterable[tuple[int, int, int, int, bytes]]) -> None:
        """Replace a collection's stored graph by ``(chunk, count, rev, key_id, blob)`` rows (in a transaction).

        Rows are inserted one by one as ``chunks`` yields them, so a large graph is never held twice.
        """
        self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
        for chunk in chunks:
            self.query(
                "INSERT INTO vv_ann (collection, chunk, count, rev, key_id, blob) VALUES (?, ?, ?, ?, ?, ?)",
                (collection, *chunk),
            )

    def drop_ann(self, collection: str, key_ids: Sequence[int] | None = None) -> None:
        """Delete a collection's stored graph (a cache); with ``key_ids``, only if it is sealed under one of them."""
        if key_ids is None:
            self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
            return
        for key_id in key_ids:
            if self.query("SELECT 1 FROM vv_ann WHERE collection = ? AND key_id = ? LIMIT 1", (collection, key_id)):
                self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
                return

    def has_ann(self, collection: str) -> bool:
        """Whether a graph is stored for the collection."""
        return bool(self.query("SELECT 1 FROM vv_ann WHERE collection = ? LIMIT 1", (collection,)))

    def iter_ann(self, collection: str) -> Iterator[tuple[int, int, int, int, bytes]]:
        """Like :meth:`load_ann`, one chunk per statement, so a large graph is read a chunk at a time."""
        listed = self.query("SELECT chunk FROM vv_ann WHERE collection = ? ORDER BY chunk", (collection,))
        for (chunk,) in listed:
            rows = self.query(
                "SELECT chunk, count, rev, key_id, CAST(blob AS BLOB) FROM vv_ann WHERE collection = ? AND chunk = ?",
                (collection, int(chunk)),
            )
            if rows:
                yield _ann_row(rows[0])

    def load_ann(self, collection: str) -> list[tuple[int, int, int, int, bytes]]:
        """A collection's stored graph chunks ``(chunk, count, rev, key_id, blob)`` (empty if none)."""
        rows = self.query(
            "SELECT chunk, count, rev, key_id, CAST(blob AS BLOB) FROM vv_ann WHERE collection = ? ORDER BY chunk",
            (collection,),
        )
        return [_ann_row(r) for r in rows]
