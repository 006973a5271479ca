"""Approximate search through an HNSW graph that follows a collection's mirror (``index="hnsw"``/``"auto"``).

:class:`GraphKeeper` owns one collection's graph: it reopens the sealed graph stored in the vault (the
fast path decrypts each vector straight into the graph's element records), catches it up with what the
mirror says changed (records whose authenticated write version is newer than the graph's), rebuilds it
when it drifts too far, and stores it again, sealed, after a large change. A stored graph that does not
open is only a cache gone bad: it is never trusted, and the next save replaces it.
:class:`GraphSearcher` ranks through the graph; hits are scored exactly from the opened vectors.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from vecvault.crypto import chunked
from vecvault.errors import IntegrityError, StorageError
from vecvault.filters import MetadataTable
from vecvault.search.base import Page, Query, Ranked, StaleSourceError
from vecvault.search.exact import VectorIndex
from vecvault.search.graph import HnswIndex
from vecvault.storage import CollectionRow

if TYPE_CHECKING:
    from vecvault.engine import VaultCore

__all__ = ["AUTO_HNSW_MIN", "INDEX_MODES", "GraphKeeper", "GraphSearcher"]

INDEX_MODES = ("exact", "hnsw", "auto")
# index="auto" builds an HNSW graph from this many records (see benchmarks/RESULTS.md, phase 3).
AUTO_HNSW_MIN = 100_000
_SAVE_MIN = 1_000


class GraphKeeper:
    """The HNSW graph of one collection, its stored copy, and when the collection searches through it."""

    def __init__(self, core: VaultCore, name: str) -> None:
        self._core = core
        self._name = name
        self.mode = "exact"  # the collection's index mode in this process (not stored)
        self._graph: HnswIndex | None = None
        self._save_due = False
        self._stale = False  # the stored graph does not open: never retried, replaced by the next save

    @property
    def graph(self) -> HnswIndex | None:
        """The graph this process holds (None until the first search that needs one)."""
        return self._graph

    def release(self) -> None:
        """Drop the graph held in memory (the vault closed); a stored one stays stored."""
        self._graph = None
        self._save_due = False

    def wants_graph(self, dim: int, size: int) -> bool:
        """Whether a collection of ``size`` records searches through the graph (its index mode)."""
        mode = self.mode
        return mode != "exact" and dim > 0 and (mode != "auto" or size >= AUTO_HNSW_MIN)

    def keys_rotated(self) -> None:
        """The collection's old data keys were destroyed (with the stored graph): store the held one anew."""
        if self._graph is not None:
            self._save_due = True

    def _revs_authenticated(self) -> bool:
        """Whether every record's write version is bound by its seal (no live legacy v1 key in the collection)."""
        return not self._core.keys.keyset.has_live_legacy_keys(self._name)

    # -- following the mirror --------------------------------------------------------------------------

    def follow(self, index: VectorIndex) -> HnswIndex | None:
        """The graph caught up with ``index``, or None when the exact path serves (inside the snapshot)."""
        if not self.wants_graph(index.dim, len(index)):
            index.restore_vectors()  # the exact path scans the matrix (after a switch to index="exact")
            return None
        storage = self._core.storage
        graph = self._graph
        if graph is None:
            graph = self._graph = self._load_stored(index)
        if graph.source is not index:
            if graph.rev is not None and not self._revs_authenticated():
                graph = self._graph = HnswIndex(index.dim, index.metric)  # v1 records' revs prove nothing
            graph.attach(index)  # re-inserts the records whose authenticated write version is newer than the graph
        if graph.behind:
            changed_count = graph.catch_up()
            # Save after a large change, or when no graph is stored (a delete drops the stored one) or the
            # stored one does not open.
            if changed_count >= max(_SAVE_MIN, len(index) // 20) or self._stale or not storage.has_ann(self._name):
                self._save_due = True
        if graph.needs_rebuild:
            index.restore_vectors()  # the old graph may hold the only copy: take it back before dropping it
            graph = self._graph = HnswIndex(index.dim, index.metric)
            graph.attach(index)
            graph.catch_up()
            self._save_due = True
        graph.rev = index.max_rev  # from the authenticated revs of the rows it now holds, not the plaintext counter
        if not index.released and graph.covers_source:
            index.release_vectors(graph.gather)  # the graph holds every vector: keep one copy, not two
        return graph

    def _load_stored(self, index: VectorIndex) -> HnswIndex:
        """The stored graph if it opens and fits this collection, else an empty one (rebuilt lazily)."""
        storage = self._core.storage
        if not self._stale and self._revs_authenticated() and storage.has_ann(self._name):
            try:
                chunks = (chunked.SealedChunk(*r) for r in storage.iter_ann(self._name))
                rev, data = chunked.open_graph(self._core.keys.keyset, self._core.keys.vault_id, self._name, chunks)
                graph = HnswIndex.from_bytes(data, index)
                if graph.rev != rev or graph.dim != index.dim or graph.metric != index.metric:
                    raise IntegrityError("The stored graph does not match its collection.")
                return graph
            except IntegrityError:
                self._stale = True  # a damaged or foreign graph is never trusted: rebuild from the records
        return HnswIndex(index.dim, index.metric)

    def save_if_due(self) -> None:
        """Seal and store the graph after a large catch-up (outside the read snapshot)."""
        graph = self._graph
        if not self._save_due or graph is None or graph.rev is None:
            return
        self._save_due = False
        data = graph.to_bytes()
        try:
            with self._core.write(self._name, chunked.chunk_count(len(data))) as primary:
                chunks = chunked.seal_graph(primary, self._core.keys.vault_id, self._name, graph.rev, data)
                self._core.storage.save_ann(self._name, ((c.index, c.count, c.rev, c.key_id, c.blob) for c in chunks))
        except StorageError:
            self._save_due = True  # busy: try again after the next search
            return
        self._stale = False

    # -- reopening -------------------------------------------------------------------------------------

    def load_with_stored_graph(
        self, config: CollectionRow, pages: Iterator[Page], *, with_metadata: bool
    ) -> VectorIndex | None:
        """Reopen fast path: put each vector straight into the stored graph's element records.

        ``pages`` are the collection's records, read from the records table or a current snapshot, with
        write versions authenticated as their vectors opened. Taken only when a stored graph holds
        exactly the current records, none of them written after the graph (each record's write version is
        at most the graph's); the exact index is then born released (its rows are read from the graph), so
        a reopen holds every vector once. Anything unexpected, or a page source gone stale midway
        (:class:`StaleSourceError`), returns None and the mirror's general load runs instead (which also
        rebuilds a graph that does not open). ``pages`` is not iterated when the fast path does not apply.
        """
        if self._graph is not None or self.mode == "exact":
            return None
        storage = self._core.storage
        count = storage.count(self._name)
        if sys.byteorder != "little" or not self.wants_graph(config.dim, count):
            return None
        if self._stale or not storage.has_ann(self._name) or not self._revs_authenticated():
            return None
        try:
            chunks = (chunked.SealedChunk(*r) for r in storage.iter_ann(self._name))
            rev, data = chunked.open_graph(self._core.keys.keyset, self._core.keys.vault_id, self._name, chunks)
            skeleton = HnswIndex.skeleton(data, config.dim, config.metric)
        except IntegrityError:
            self._stale = True
            return None
        del data
        graph = skeleton.graph
        live = len(graph)
        if graph.rev != rev or live != count:
            return None
        label_of = graph.label_of
        position = skeleton.position_of_label(np.arange(len(graph.ids_by_label)))
        index = VectorIndex(config.dim, config.metric)
        if with_metadata:
            index.metadata = MetadataTable()
        index.release_vectors(graph.gather)
        row_labels = np.empty(live, dtype=np.int64)
        filled = 0
        try:
            for ids, written, page, metadatas in pages:
                found = list(map(label_of.get, ids))
                if filled + len(ids) > live or None in found:
                    return None  # a record the stored graph does not know
                if written.size and int(written.max()) > rev:
                    return None  # a record written after the graph: the general path catches the graph up
                labels = np.array(found, dtype=np.int64)
                skeleton.vectors[position[labels]] = page
                index.extend_released(ids, np.einsum("ij,ij->i", page, page), metadatas, written)
                row_labels[filled : filled + len(ids)] = labels
                filled += len(ids)
        except StaleSourceError:
            return None
        if filled != live:
            return None
        deleted = [label for label, rid in enumerate(graph.ids_by_label) if rid is None]
        if deleted:
            skeleton.vectors[position[deleted]] = 0.0
        skeleton.install()
        graph.adopt(index, row_labels)
        self._graph = graph
        return index


class GraphSearcher:
    """Ranks through the HNSW graph; the graph proposes candidates, scored exactly from opened vectors."""

    def __init__(
        self, index: VectorIndex, mask: npt.NDArray[np.bool_] | None, graph: HnswIndex, keeper: GraphKeeper
    ) -> None:
        self._index = index
        self._mask = mask
        self._graph = graph
        self._keeper = keeper

    def top(self, query: Query, n: int) -> Ranked:
        """The graph's ``n`` best records among those the mask keeps."""
        rows, scores = self._graph.candidates(query, n, self._mask)
        ids = self._index.ids
        return Ranked([(ids[r], float(s)) for r, s in zip(rows, scores, strict=True)], self._index)

    def diverse(self, query: Query, k: int, fetch_k: int, lambda_mult: float) -> Ranked:
        """MMR among the graph's ``fetch_k`` candidates, as a search would find them."""
        found = self._graph.candidates(query, fetch_k, self._mask)
        scored = self._index.search_mmr(query, k, fetch_k, lambda_mult, self._mask, candidates=found)
        return Ranked([(self._index.ids[s.row], s.score) for s in scored], self._index)

    def finish(self) -> None:
        """Store the graph if a search grew it enough."""
        self._keeper.save_if_due()
