"""What the tables of chunked sealed values share (``vv_ann`` graphs, ``vv_snapshots``): their shape and writes.

Each row is one sealed chunk ``(collection, chunk, count, rev, key_id, blob)`` of a value the vault can
rebuild from its records (see :mod:`vecvault.crypto.chunked`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vecvault.storage._sql import quote_identifier
from vecvault.storage.connection import Connection

ChunkRow = tuple[int, int, int, int, bytes]

_CHUNK_TABLE = """CREATE TABLE IF NOT EXISTS {name} (
    collection TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    count INTEGER NOT NULL,
    rev INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (collection, chunk)
)"""


def chunk_table(name: str) -> str:
    """The CREATE TABLE statement of a chunk table called ``name``."""
    return _CHUNK_TABLE.format(name=name)


def chunk_row(r: Sequence[Any]) -> ChunkRow:
    """A stored chunk row, typed; a NULL or retyped blob becomes bytes (or ``b""``): it fails to open, never crashes."""
    return int(r[0]), int(r[1]), int(r[2]), int(r[3]), b"" if r[4] is None else bytes(r[4])


class ChunksSQL(Connection):
    """Writes shared by the chunk tables."""

    def _replace_chunks(self, table: str, collection: str, chunks: Iterable[ChunkRow]) -> None:
        """Replace a collection's value in ``table`` by ``chunks`` (inside a transaction).

        Rows are inserted one by one as ``chunks`` yields them, so a large value is never held twice.
        """
        quoted = quote_identifier(table)
        self.query(f"DELETE FROM {quoted} WHERE collection = ?", (collection,))  # noqa: S608 (a table constant)
        insert = f"INSERT INTO {quoted} (collection, chunk, count, rev, key_id, blob) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608
        for chunk in chunks:
            self.query(insert, (collection, *chunk))

    def _drop_chunks(self, table: str, collection: str, key_ids: Sequence[int] | None) -> None:
        """Delete a collection's value in ``table``; with ``key_ids``, only if a chunk is sealed under one."""
        quoted = quote_identifier(table)
        delete = f"DELETE FROM {quoted} WHERE collection = ?"  # noqa: S608 (a table constant)
        if key_ids is None:
            self.query(delete, (collection,))
            return
        named = f"SELECT 1 FROM {quoted} WHERE collection = ? AND key_id = ? LIMIT 1"  # noqa: S608
        if any(self.query(named, (collection, key_id)) for key_id in key_ids):
            self.query(delete, (collection,))
