"""Unsealed vectors of ``plain`` collections, ranked by libSQL's vector functions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from vecvault.storage._sql import (
    _chunks,
    quote_identifier,
)
from vecvault.storage.connection import Connection


class PlainSQL(Connection):
    """Unsealed vectors of ``plain`` collections, ranked by libSQL's vector functions."""

    @staticmethod
    def plain_table(collection: str) -> str:
        """The (quoted) name of a plain-mode collection's vector table."""
        digest = hashlib.sha256(collection.encode()).hexdigest()[:20]
        return quote_identifier(f"vv_plain_{digest}")

    @staticmethod
    def plain_index(collection: str) -> str:
        """The (unquoted) name of a plain-mode collection's DiskANN index, as vector_top_k wants it."""
        return f"vv_plain_{hashlib.sha256(collection.encode()).hexdigest()[:20]}_ann"

    def create_plain_table(self, collection: str, dim: int, metric: str, *, native_index: bool) -> None:
        """Create the vector table (and optionally libSQL's DiskANN index) of a plain-mode collection."""
        table = self.plain_table(collection)
        self.query(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, embedding F32_BLOB({int(dim)}))")
        if native_index:
            index = quote_identifier(self.plain_index(collection))
            option = "metric=cos" if metric == "cosine" else "metric=l2"
            self.query(f"CREATE INDEX IF NOT EXISTS {index} ON {table} (libsql_vector_idx(embedding, '{option}'))")

    def upsert_plain(self, collection: str, rows: Sequence[tuple[str, bytes]]) -> None:
        """Insert or replace plain vectors (inside a write transaction)."""
        table = self.plain_table(collection)
        self.execute_many(f"INSERT OR REPLACE INTO {table} (id, embedding) VALUES (?, ?)", list(rows))  # noqa: S608

    def delete_plain(self, collection: str, ids: Sequence[str]) -> None:
        """Delete plain vectors by id (inside a write transaction)."""
        table = self.plain_table(collection)
        self.execute_many(f"DELETE FROM {table} WHERE id = ?", [(i,) for i in ids])  # noqa: S608

    def clear_plain(self, collection: str) -> None:
        """Delete every plain vector of a collection (inside a write transaction)."""
        self.query(f"DELETE FROM {self.plain_table(collection)}")  # noqa: S608

    def drop_plain(self, collection: str) -> None:
        """Drop a plain-mode collection's vector table and index (inside a write transaction)."""
        self.query(f"DROP INDEX IF EXISTS {quote_identifier(self.plain_index(collection))}")
        self.query(f"DROP TABLE IF EXISTS {self.plain_table(collection)}")

    def plain_top_k(
        self,
        collection: str,
        metric: str,
        query: bytes,
        k: int,
        *,
        ids: Sequence[str] | None = None,
        native_index: bool = False,
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest plain vectors as ``(id, distance)``, nearest first, optionally among ``ids``.

        With ``native_index``, libSQL's DiskANN index answers (approximate); otherwise a full scan with
        ``vector_distance_cos`` / ``vector_distance_l2`` (exact).
        """
        table = self.plain_table(collection)
        fn = "vector_distance_cos" if metric == "cosine" else "vector_distance_l2"
        if native_index and ids is None:
            index = self.plain_index(collection)
            sql = (
                f"SELECT v.id, {fn}(v.embedding, ?) AS d FROM vector_top_k(?, ?, ?) AS t "  # noqa: S608
                f"JOIN {table} AS v ON v.rowid = t.id ORDER BY d LIMIT ?"
            )
            rows = self.query(sql, (query, index, query, int(k), int(k)))
            return [(str(r[0]), float(r[1])) for r in rows]
        if ids is None:
            sql = f"SELECT id, {fn}(embedding, ?) AS d FROM {table} ORDER BY d, id LIMIT ?"  # noqa: S608
            return [(str(r[0]), float(r[1])) for r in self.query(sql, (query, int(k)))]
        found: list[tuple[str, float]] = []
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT id, {fn}(embedding, ?) AS d FROM {table} WHERE id IN ({marks}) "  # noqa: S608
                "ORDER BY d, id LIMIT ?"
            )
            found.extend((str(r[0]), float(r[1])) for r in self.query(sql, (query, *chunk, int(k))))
        found.sort(key=lambda item: (item[1], item[0]))
        return found[:k]

    def plain_vectors(self, collection: str, ids: Sequence[str]) -> dict[str, bytes]:
        """Plain vectors by id (raw little-endian float32 bytes)."""
        table = self.plain_table(collection)
        out: dict[str, bytes] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, CAST(embedding AS BLOB) FROM {table} WHERE id IN ({marks})"  # noqa: S608
            out.update((str(r[0]), bytes(r[1])) for r in self.query(sql, tuple(chunk)))
        return out
