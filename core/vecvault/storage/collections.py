"""Collections and their change counters (``vv_collections``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vecvault.errors import (
    ConfigurationError,
    StorageError,
)
from vecvault.storage.connection import Connection


@dataclass(frozen=True)
class CollectionRow:
    """A collection's fixed configuration and its change counters."""

    name: str
    dim: int
    metric: str
    vectors: str
    model: str | None
    rev: int
    epoch: int
    options: str


def _collection_row(r: Sequence[Any]) -> CollectionRow:
    return CollectionRow(
        name=str(r[0]),
        dim=int(r[1]),
        metric=str(r[2]),
        vectors=str(r[3]),
        model=None if r[4] is None else str(r[4]),
        rev=int(r[5]),
        epoch=int(r[6]),
        options=str(r[7]),
    )


class CollectionsSQL(Connection):
    """Collections and their change counters (``vv_collections``)."""

    def collections(self) -> list[CollectionRow]:
        """Every collection, by name."""
        rows = self.query(
            "SELECT name, dim, metric, vectors, model, rev, epoch, options FROM vv_collections ORDER BY name"
        )
        return [_collection_row(r) for r in rows]

    def collection(self, name: str) -> CollectionRow | None:
        """One collection, or None."""
        rows = self.query(
            "SELECT name, dim, metric, vectors, model, rev, epoch, options FROM vv_collections WHERE name = ?",
            (name,),
        )
        return _collection_row(rows[0]) if rows else None

    def create_collection(self, row: CollectionRow) -> None:
        """Insert a collection (no-op if it exists; the caller re-reads and checks).

        Raises:
            ConfigurationError: a key-value namespace has this name (they share names and key scopes).
        """
        if self.query("SELECT 1 FROM vv_kv_namespaces WHERE name = ?", (row.name,)):
            raise ConfigurationError(
                f"{row.name!r} is a key-value namespace of this vault (vault.kv); a collection needs a name no "
                f"namespace uses (e.g. {row.name + '_vectors'!r})."
            )
        self.query(
            "INSERT OR IGNORE INTO vv_collections (name, dim, metric, vectors, model, rev, epoch, created_at, "
            "options) VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)",
            (row.name, row.dim, row.metric, row.vectors, row.model, time.time(), row.options),
        )

    def revision(self, name: str) -> tuple[int, int] | None:
        """A collection's ``(rev, epoch)``: cheap, read before every query for freshness."""
        rows = self.query("SELECT rev, epoch FROM vv_collections WHERE name = ?", (name,))
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def bump_revision(self, name: str) -> tuple[int, int]:
        """Advance a collection's revision (inside a write transaction) and return ``(old_rev, new_rev)``.

        The new revision is the write version sealed into every field of the write, so it must never be
        one a stored record already has: it is above the counter and above every stored record's ``rev``
        (a counter put back by someone editing the file does not make a version come round again).
        """
        rows = self.query(
            "UPDATE vv_collections SET rev = max(rev, coalesce((SELECT max(rev) FROM vv_records "
            "WHERE collection = ?), 0)) + 1 WHERE name = ? RETURNING rev",
            (name, name),
        )
        if not rows:
            raise StorageError(f"Collection {name!r} disappeared while writing; it was dropped by another process.")
        new_rev = int(rows[0][0])
        return new_rev - 1, new_rev

    def bump_epoch(self, name: str) -> int:
        """Start a new epoch (inside a write transaction): other readers will reload the collection."""
        rows = self.query("UPDATE vv_collections SET epoch = epoch + 1 WHERE name = ? RETURNING epoch", (name,))
        return int(rows[0][0])

    def drop_collection(self, name: str) -> None:
        """Delete a collection and all its records (inside a write transaction)."""
        self.query("DELETE FROM vv_records WHERE collection = ?", (name,))
        self.query("DELETE FROM vv_deletions WHERE collection = ?", (name,))
        self.query("DELETE FROM vv_ann WHERE collection = ?", (name,))
        self.query("DELETE FROM vv_snapshots WHERE collection = ?", (name,))
        self.query("DELETE FROM vv_collections WHERE name = ?", (name,))
