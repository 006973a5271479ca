"""Sealed HNSW graphs, chunked (``vv_ann``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from vecvault.storage.chunks import ChunkRow, ChunksSQL, chunk_row


class AnnSQL(ChunksSQL):
    """Sealed HNSW graphs, chunked (``vv_ann``)."""

    def save_ann(self, collection: str, chunks: Iterable[ChunkRow]) -> None:
        """Replace a collection's stored graph by ``(chunk, count, rev, key_id, blob)`` rows (in a transaction).

        Rows are inserted one by one as ``chunks`` yields them, so a large graph is never held twice.
        """
        self._replace_chunks("vv_ann", collection, chunks)

    def drop_ann(self, collection: str, key_ids: Sequence[int] | None = None) -> None:
        """Delete a collection's stored graph (a cache); with ``key_ids``, only if it is sealed under one of them."""
        self._drop_chunks("vv_ann", collection, key_ids)

    def has_ann(self, collection: str) -> bool:
        """Whether a graph is stored for the collection."""
        return bool(self.query("SELECT 1 FROM vv_ann WHERE collection = ? LIMIT 1", (collection,)))

    def iter_ann(self, collection: str) -> Iterator[ChunkRow]:
        """Like :meth:`load_ann`, one chunk per statement, so a large graph is read a chunk at a time."""
        listed = self.query("SELECT chunk FROM vv_ann WHERE collection = ? ORDER BY chunk", (collection,))
        for (chunk,) in listed:
            rows = self.query(
                "SELECT chunk, count, rev, key_id, CAST(blob AS BLOB) FROM vv_ann WHERE collection = ? AND chunk = ?",
                (collection, int(chunk)),
            )
            if rows:
                yield chunk_row(rows[0])

    def load_ann(self, collection: str) -> list[ChunkRow]:
        """A collection's stored graph chunks ``(chunk, count, rev, key_id, blob)`` (empty if none)."""
        rows = self.query(
            "SELECT chunk, count, rev, key_id, CAST(blob AS BLOB) FROM vv_ann WHERE collection = ? ORDER BY chunk",
            (collection,),
        )
        return [chunk_row(r) for r in rows]
