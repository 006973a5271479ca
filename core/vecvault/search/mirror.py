"""The change feed: a collection's in-memory copy, kept in step with the database by revision.

The mirror holds the collection's opened vectors (and, once a filter needs them, its opened metadata) in a
:class:`~vecvault.index.VectorIndex`. Every read first compares the collection's ``(rev, epoch)`` with
the state the mirror reflects: an equal state costs nothing, a newer revision applies the records written
and deleted since (other connections' writes included), a new epoch (a clear, a pruned deletion log) or
a first use loads everything, page by page. Each vector and metadata field is opened under its record's
write version, so the revisions the mirror holds are authenticated. Searchers rank over the mirror; an
HNSW graph (:mod:`vecvault.search.hnsw`) follows it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vecvault.errors import IntegrityError
from vecvault.filters import Filter, MetadataTable
from vecvault.records import RecordSealer
from vecvault.search.base import Page
from vecvault.search.exact import VectorIndex
from vecvault.search.snapshot import SnapshotKeeper
from vecvault.storage import CollectionRow

if TYPE_CHECKING:
    from vecvault.engine import VaultCore
    from vecvault.search.hnsw import GraphKeeper

__all__ = ["Mirror", "rev_array"]


def rev_array(revs: Sequence[Any]) -> npt.NDArray[np.int64]:
    """Stored write versions as int64; one that is no integer means the file was altered."""
    try:
        return np.array(revs, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise IntegrityError("A record's write version (rev) is not an integer; the vault was altered.") from None


class Mirror:
    """The in-memory copy of one collection (call every method with the vault lock held)."""

    def __init__(self, core: VaultCore, name: str, sealer: RecordSealer, graphs: GraphKeeper) -> None:
        self._core = core
        self._name = name
        self._sealer = sealer
        self._graphs = graphs
        self._index: VectorIndex | None = None
        self._known: tuple[int, int] | None = None  # (rev, epoch) the index reflects
        self.snapshots = SnapshotKeeper(core, name, self.apply_rows)
        self.dropped = False  # set by sync when another connection dropped the collection

    @property
    def index(self) -> VectorIndex | None:
        """The index as last synced (None before the first sync or after a reset)."""
        return self._index

    def reset(self) -> None:
        """Forget the copy: the next sync loads everything again."""
        self._index = None
        self._known = None

    def sync(self, config: CollectionRow, *, with_metadata: bool = False) -> VectorIndex | None:
        """Bring the copy up to the database's state; None if the collection was dropped meanwhile."""
        storage = self._core.storage
        state = storage.revision(self._name)
        self.dropped = state is None
        if state is None:
            self.reset()
            return None
        index = self._index
        need_meta = with_metadata and (index is None or index.metadata is None)
        if index is None or self._known is None or state[1] != self._known[1] or need_meta:
            return self._load(config, with_metadata=with_metadata or (index is not None and index.metadata is not None))
        if state[0] == self._known[0]:
            return index
        known_rev = self._known[0]
        deleted = storage.deletions_since(self._name, known_rev)
        changed = storage.scan(self._name, self.scan_columns(config, index.metadata is not None), since_rev=known_rev)
        index.remove(deleted)
        self.apply_rows(index, changed, config.dim)
        self._known = state
        return index

    def indexed(
        self, config: CollectionRow, parsed: Filter | None
    ) -> tuple[VectorIndex, npt.NDArray[np.bool_] | None] | None:
        """The synced index and the filter's row mask (inside the read snapshot)."""
        index = self.sync(config, with_metadata=parsed is not None)
        if index is None:
            return None
        return index, (index.metadata.mask(parsed) if parsed is not None and index.metadata is not None else None)

    def matching_ids(self, config: CollectionRow, parsed: Filter) -> list[str]:
        """Ids of the records whose metadata matches the filter, in index order."""
        index = self.sync(config, with_metadata=True)
        if index is None or index.metadata is None:
            return []
        return [index.ids[i] for i in np.flatnonzero(index.metadata.mask(parsed))]

    def apply_own_write(self, old_rev: int, new_rev: int, apply: Callable[[Any], None]) -> None:
        """Apply this process's committed write to the copy, if the copy was current before the write."""
        index = self._index
        if index is None or self._known is None:
            return
        if self._known[0] == old_rev:
            apply(index)
            self._known = (new_rev, self._known[1])

    def note_epoch(self, rev: int, epoch: int) -> None:
        """This process's write started a new epoch at ``rev`` (the deletion log was pruned)."""
        if self._known is not None and self._known[0] == rev:
            self._known = (rev, epoch)

    def persist(self, config: CollectionRow) -> None:
        """After a read (outside its snapshot): store the mirror's snapshot if it is due."""
        index, known = self._index, self._known
        if index is None or known is None:
            return
        self.snapshots.note_changes(config, index, known[0])
        self.snapshots.save_if_due(config, index, known)

    def compact(self, config: CollectionRow) -> bool:
        """Fold every change into a fresh snapshot now (call after a sync, outside its read snapshot)."""
        index, known = self._index, self._known
        if index is None or known is None:
            return False
        return self.snapshots.save(config, index, known)

    @property
    def known_rev(self) -> int | None:
        """The collection revision the copy reflects."""
        return None if self._known is None else self._known[0]

    # -- loading ---------------------------------------------------------------------------------------

    def _load(self, config: CollectionRow, *, with_metadata: bool) -> VectorIndex:
        storage = self._core.storage
        state = storage.revision(self._name) or (0, 0)
        if config.vectors != "plain":
            loaded = self._load_fast(config, state, with_metadata=with_metadata)
            if loaded is not None:
                self._index, self._known = loaded, state
                return loaded
        columns = self.scan_columns(config, with_metadata)
        # Plain mode ranks in SQL: its in-memory index holds ids and metadata only (zero-width vectors).
        index = VectorIndex(0 if config.vectors == "plain" else config.dim, config.metric)
        if with_metadata:
            index.metadata = MetadataTable()
        # Page by page into a matrix sized once: memory stays near the vectors' own size.
        index.reserve(storage.count(self._name))
        for rows in storage.scan_pages(self._name, columns):
            self.apply_rows(index, rows, config.dim)
        self._index = index
        self._known = state
        self.snapshots.note_loaded(config, index)
        return index

    def _load_fast(self, config: CollectionRow, state: tuple[int, int], *, with_metadata: bool) -> VectorIndex | None:
        """A sealed collection's load from its stored graph and snapshot, where they serve; else None.

        In order: the stored HNSW graph filled from a current snapshot (each vector decrypted once, into
        the graph); the snapshot and its delta; the stored graph filled from the records.
        """
        snapshots, graphs = self.snapshots, self._graphs
        if not with_metadata and snapshots.is_current(config, state):
            loaded = graphs.load_with_stored_graph(config, snapshots.pages(config, state), with_metadata=False)
            if loaded is not None:
                return loaded
        if not with_metadata:
            loaded = snapshots.load(config, state)
            if loaded is not None:
                return loaded
        records = self.record_pages(config, with_metadata)
        loaded = graphs.load_with_stored_graph(config, records, with_metadata=with_metadata)
        if loaded is not None:
            snapshots.note_loaded(config, loaded)
        return loaded

    def record_pages(self, config: CollectionRow, with_metadata: bool) -> Iterator[Page]:
        """Every record, page by page, opened: ids, authenticated revs, vectors as indexed, metadata if asked."""
        prepare = VectorIndex(config.dim, config.metric).prepare
        for rows in self._core.storage.scan_pages(self._name, self.scan_columns(config, with_metadata)):
            ids = [str(r[0]) for r in rows]
            revs = [r[1] for r in rows]
            written = rev_array(revs)
            page = np.empty((len(ids), config.dim), dtype=np.float32)
            self._sealer.open_vectors_into(ids, [r[2] for r in rows], revs, page)  # authenticates the revs
            page = prepare(page, in_place=True)
            metadatas = self._sealer.open_metadatas(ids, [r[3] for r in rows], revs) if with_metadata else None
            yield ids, written, page, metadatas

    @staticmethod
    def scan_columns(config: CollectionRow, with_metadata: bool) -> list[str]:
        """The record columns a load reads: the write version, the vector (sealed mode), the metadata."""
        columns = ["rev"] if config.vectors == "plain" else ["rev", "vector"]
        return [*columns, "metadata"] if with_metadata else columns

    def apply_rows(self, index: VectorIndex, rows: Sequence[tuple[Any, ...]], dim: int) -> None:
        """Open ``(id, rev, [vector], [metadata])`` rows into the index, each under its write version."""
        if not rows:
            return
        sealer = self._sealer
        ids = [str(r[0]) for r in rows]
        revs = [r[1] for r in rows]
        matrix = np.empty((len(rows), index.dim), dtype=np.float32)
        meta_col = 2
        if index.dim:
            meta_col = 3
            if sys.byteorder == "little":
                # Copy each opened vector's bytes straight into the matrix (no array per row).
                sealer.open_vectors_into(ids, [r[2] for r in rows], revs, matrix)
            else:
                for i, row in enumerate(rows):
                    matrix[i] = sealer.open_vector(ids[i], row[2], revs[i], dim)
        metadatas = None
        if index.metadata is not None:
            metadatas = sealer.open_metadatas(ids, [row[meta_col] for row in rows], revs)
        # The revs are authenticated only where a field opened under them (plain mode may open none).
        opened = bool(index.dim) or metadatas is not None
        index.upsert(ids, matrix, metadatas, owned=True, revs=rev_array(revs) if opened else None)
