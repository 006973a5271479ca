"""Exact search: every record of the mirror scored against the query (one matrix-vector product).

Vectors live in one contiguous float32 matrix, rows 0..n-1, with a dict from record id to row. A delete
moves the last row into the hole (``swap_remove``), so the matrix never has gaps; a metadata table, when
attached, mirrors every move so row ``i`` always means the same record in both. Each row also keeps the
write version (``rev``) its vector was opened with: authenticated by the seal, so an HNSW graph can tell
from it, never from a plaintext column, which records changed since the graph was built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vecvault.search.base import Query, Ranked
from vecvault.search.mmr import maximal_marginal_relevance
from vecvault.search.scores import normalize_metric

__all__ = ["ExactSearcher", "Mask", "Matrix", "ScoredRow", "VectorIndex"]

Matrix = npt.NDArray[np.float32]

Mask = npt.NDArray[np.bool_]

# Below this share of matching rows, gather the matching rows instead of scoring them all.
_GATHER_FRACTION = 0.25

_MIN_CAPACITY = 64

_RESTORE_CHUNK = 65_536  # rows gathered per call when a released matrix comes back


@dataclass(frozen=True)
class ScoredRow:
    """A row of the index with its similarity to the query."""

    row: int
    score: float


class VectorIndex:
    """Exact, in-memory similarity search over one collection's vectors."""

    def __init__(self, dim: int, metric: str) -> None:
        self.dim = dim
        self.metric = normalize_metric(metric)
        self._vectors: Matrix = np.empty((0, dim), dtype=np.float32)
        self._sq_norms: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)
        self._revs: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self.max_rev = 0  # the newest write version any row ever had here (removed rows included)
        self._n = 0
        self.ids: list[str] = []
        self._rows: dict[str, int] = {}
        self.metadata: Any = None  # a filters.MetadataTable mirroring the rows, once loaded
        self.listener: Any = None  # an observer (ann.HnswIndex) told of every upsert, remove and clear
        # Set while the matrix is released: reads rows back from the HNSW graph's own copy of the vectors.
        self._gather: Callable[[npt.NDArray[np.intp]], Matrix] | None = None

    @classmethod
    def from_prepared(
        cls,
        dim: int,
        metric: str,
        ids: list[str],
        vectors: Matrix,
        sq_norms: npt.NDArray[np.float32],
        revs: npt.NDArray[np.int64],
    ) -> VectorIndex:
        """An index over rows already prepared for ``metric`` (a snapshot's), taking ownership of the arrays.

        ``vectors`` may have spare rows beyond ``len(ids)`` (room to grow); row ``i`` is ``ids[i]``, whose
        squared norm is ``sq_norms[i]`` and write version ``revs[i]``. Nothing is copied or normalised again.

        Raises:
            ValueError: the arrays do not fit one another, or an id appears twice.
        """
        n = len(ids)
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[1] != dim or vectors.shape[0] < n:
            raise ValueError("vectors do not fit the ids")
        if sq_norms.shape != (n,) or revs.shape != (n,):
            raise ValueError("norms or revisions do not fit the ids")
        index = cls(dim, metric)
        rows = dict(zip(ids, range(n), strict=True))
        if len(rows) != n:
            raise ValueError("an id appears twice")
        capacity = vectors.shape[0]
        index._vectors = vectors
        index._sq_norms = np.empty(capacity, dtype=np.float32)
        index._sq_norms[:n] = sq_norms
        index._revs = np.empty(capacity, dtype=np.int64)
        index._revs[:n] = revs
        index.max_rev = int(revs.max()) if n else 0
        index.ids = ids
        index._rows = rows
        index._n = n
        return index

    def __len__(self) -> int:
        return self._n

    @property
    def revs(self) -> npt.NDArray[np.int64]:
        """Each row's write version as opened (-1 where unknown), rows 0..n-1. Do not modify."""
        return self._revs[: self._n]

    @property
    def sq_norms(self) -> npt.NDArray[np.float32]:
        """Each row's squared norm, as scored, rows 0..n-1. Do not modify."""
        return self._sq_norms[: self._n]

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._rows

    def row_of(self, record_id: str) -> int | None:
        """The row holding ``record_id``, if indexed."""
        return self._rows.get(record_id)

    @property
    def vectors(self) -> Matrix:
        """The indexed vectors (normalised for cosine), rows 0..n-1. Do not modify.

        A view of the matrix, or a gathered copy while the matrix is released.
        """
        if self._gather is not None:
            return self.rows_matrix(np.arange(self._n, dtype=np.intp))
        return self._vectors[: self._n]

    def rows_matrix(self, rows: npt.NDArray[np.intp]) -> Matrix:
        """The vectors of some rows (a copy)."""
        if self._gather is not None:
            return self._gather(rows) if rows.size else np.empty((0, self.dim), dtype=np.float32)
        return self._vectors[rows]

    @property
    def released(self) -> bool:
        """Whether the matrix is released (see :meth:`release_vectors`)."""
        return self._gather is not None

    def release_vectors(self, gather: Callable[[npt.NDArray[np.intp]], Matrix]) -> None:
        """Drop the in-memory matrix; from now on rows are read through ``gather(rows)``.

        An HNSW graph holds its own copy of every vector; keeping both doubles the memory of a large
        collection. The caller guarantees ``gather`` returns exactly the stored rows (same float32 values)
        for every row. Searches then score gathered rows; the first write restores the matrix.
        """
        self._gather = gather
        self._vectors = np.empty((0, self.dim), dtype=np.float32)

    def extend_released(
        self,
        ids: Sequence[str],
        sq_norms: npt.NDArray[np.float32],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        revs: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Append new rows whose vectors already live in the released store (a reopen's fast path).

        ``sq_norms`` are the rows' squared norms as stored, ``revs`` their write versions; ``ids`` must be
        new and unique.
        """
        if self._gather is None:
            raise AssertionError("release_vectors() first")
        start, count = self._n, len(ids)
        need = start + count
        if need > self._sq_norms.shape[0]:
            capacity = max(_MIN_CAPACITY, need, int(self._sq_norms.shape[0] * 1.5))
            grown = np.empty(capacity, dtype=np.float32)
            grown[:start] = self._sq_norms[:start]
            self._sq_norms = grown
            grown_revs = np.empty(capacity, dtype=np.int64)
            grown_revs[:start] = self._revs[:start]
            self._revs = grown_revs
        self._sq_norms[start:need] = sq_norms
        self._set_revs(slice(start, need), revs)
        self.ids.extend(ids)
        self._rows.update(zip(ids, range(start, need), strict=True))
        if len(self._rows) != need:
            raise AssertionError("extend_released() got an id twice")
        if self.metadata is not None:
            if metadatas is None:
                raise AssertionError("metadata table attached: metadatas required")
            for metadata in metadatas:
                self.metadata.append(metadata)
        self._n = need

    def restore_vectors(self) -> None:
        """Bring a released matrix back into memory (a no-op when it is not released)."""
        gather = self._gather
        if gather is None:
            return
        matrix = np.empty((max(_MIN_CAPACITY, self._n), self.dim), dtype=np.float32)
        for start in range(0, self._n, _RESTORE_CHUNK):
            rows = np.arange(start, min(self._n, start + _RESTORE_CHUNK), dtype=np.intp)
            matrix[start : start + rows.size] = gather(rows)
        self._vectors = matrix
        self._gather = None

    def prepare(self, vectors: Matrix, *, in_place: bool = False) -> Matrix:
        """Return vectors as stored for this metric (unit length for cosine).

        With ``in_place`` a contiguous float32 input is normalised in its own memory (no temporary the
        size of the input): the load path of every open owns its matrix and uses this.
        """
        out = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.metric == "cosine":
            norms = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
            norms[norms == 0] = 1.0
            out = np.divide(out, norms, out=out if in_place and out is vectors else None).astype(np.float32, copy=False)
        return out

    def reserve(self, total: int) -> None:
        """Make room for ``total`` rows at once (before loading a collection of known size)."""
        self._reserve(max(0, total - self._n))

    def _reserve(self, extra: int) -> None:
        self.restore_vectors()
        need = self._n + extra
        if need <= self._vectors.shape[0]:
            return
        capacity = max(_MIN_CAPACITY, need, int(self._vectors.shape[0] * 1.5))
        grown = np.empty((capacity, self.dim), dtype=np.float32)
        grown[: self._n] = self._vectors[: self._n]
        self._vectors = grown
        norms = np.empty(capacity, dtype=np.float32)
        norms[: self._n] = self._sq_norms[: self._n]
        self._sq_norms = norms
        revs = np.empty(capacity, dtype=np.int64)
        revs[: self._n] = self._revs[: self._n]
        self._revs = revs

    def _set_revs(self, rows: Any, revs: Any) -> None:
        """Record rows' write versions; None means unknown (-1: always counted as changed)."""
        if revs is None:
            self._revs[rows] = -1
            return
        values = np.asarray(revs, dtype=np.int64)
        self._revs[rows] = values
        if values.size:
            self.max_rev = max(self.max_rev, int(values.max()))

    def note_revs(self, ids: Sequence[str], rev: int) -> None:
        """Rows re-sealed without a change of value (a key rotation) now carry the write version ``rev``."""
        rows = [row for row in map(self._rows.get, ids) if row is not None]
        if rows:
            self._set_revs(np.array(rows, dtype=np.intp), rev)

    def rev_of(self, record_id: str) -> int | None:
        """The write version of a row (-1 if unknown), or None if the id is not indexed."""
        row = self._rows.get(record_id)
        return None if row is None else int(self._revs[row])

    def changed_since(self, rev: int) -> list[str]:
        """Ids of rows whose write version is newer than ``rev`` (or unknown)."""
        revs = self._revs[: self._n]
        return [self.ids[row] for row in np.flatnonzero((revs > rev) | (revs < 0)).tolist()]

    def upsert(
        self,
        ids: Sequence[str],
        vectors: Matrix,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        *,
        owned: bool = False,
        revs: int | Sequence[int] | npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Insert or replace rows; ``metadatas`` are required while a metadata table is attached.

        ``owned``: the caller hands over ``vectors`` (it may be normalised in place). ``revs``: the write
        version of each row (or one for all), as authenticated when its vector was opened or sealed.
        """
        if len(ids) == 0:
            return
        prepared = self.prepare(vectors, in_place=owned)
        self._reserve(len(ids))
        mirror = self.metadata
        if mirror is not None and metadatas is None:
            raise AssertionError("metadata table attached: metadatas required")
        known = self._rows
        rows = np.empty(len(ids), dtype=np.intp)
        for i, record_id in enumerate(ids):
            row = known.get(record_id)
            if row is None:
                row = self._n
                self._n += 1
                self.ids.append(record_id)
                known[record_id] = row
                if mirror is not None and metadatas is not None:
                    mirror.append(metadatas[i])
            elif mirror is not None and metadatas is not None:
                mirror.replace(row, metadatas[i])
            rows[i] = row
        sq_norms = np.einsum("ij,ij->i", prepared, prepared)
        if len(set(ids)) == len(ids):
            # One vectorised copy instead of a numpy call per row (the load path of every open).
            self._vectors[rows] = prepared
            self._sq_norms[rows] = sq_norms
            self._set_revs(rows, revs)
        else:
            per_row = None if revs is None else np.broadcast_to(np.asarray(revs, dtype=np.int64), (len(ids),))
            for i, row in enumerate(rows.tolist()):  # repeated ids: the last one wins, in order
                self._vectors[row] = prepared[i]
                self._sq_norms[row] = sq_norms[i]
                self._set_revs(row, None if per_row is None else per_row[i])
        if self.listener is not None:
            self.listener.on_upsert(ids)

    def remove(self, ids: Sequence[str]) -> int:
        """Remove rows by id (unknown ids ignored); return how many were removed."""
        removed = 0
        for record_id in ids:
            row = self._rows.pop(record_id, None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:
                moved = self.ids[last]
                if self._gather is None:  # a released matrix is read by id through the graph: nothing moves
                    self._vectors[row] = self._vectors[last]
                self._sq_norms[row] = self._sq_norms[last]
                self._revs[row] = self._revs[last]
                self.ids[row] = moved
                self._rows[moved] = row
            self.ids.pop()
            if self.metadata is not None:
                self.metadata.swap_remove(row)
            self._n = last
            removed += 1
        if removed and self.listener is not None:
            self.listener.on_remove(ids)
        return removed

    def clear(self) -> None:
        """Drop every row."""
        self._vectors = np.empty((0, self.dim), dtype=np.float32)
        self._gather = None
        self._sq_norms = np.empty(0, dtype=np.float32)
        self._revs = np.empty(0, dtype=np.int64)
        self._n = 0
        self.ids = []
        self._rows = {}
        if self.metadata is not None:
            self.metadata.clear()
        if self.listener is not None:
            self.listener.on_clear()

    # -- search ------------------------------------------------------------------------------------------

    def _scores(self, query: npt.NDArray[np.float32], rows: npt.NDArray[np.intp] | None) -> npt.NDArray[np.float32]:
        if self._gather is not None:
            matrix = self.vectors if rows is None else self.rows_matrix(rows)
        else:
            matrix = self._vectors[: self._n] if rows is None else self._vectors[rows]
        dots: npt.NDArray[np.float32] = matrix @ query
        if self.metric != "euclidean":
            return dots
        sq = self._sq_norms[: self._n] if rows is None else self._sq_norms[rows]
        dist = np.sqrt(np.maximum(sq - 2.0 * dots + float(query @ query), 0.0))
        similarity: npt.NDArray[np.float32] = (1.0 / (1.0 + dist)).astype(np.float32)
        return similarity

    def score_rows(self, query: npt.NDArray[np.float32], rows: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
        """Exact scores of some rows against a query already passed through :meth:`prepare_query`."""
        return self._scores(query, rows)

    def prepare_query(self, query: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Return the query as scored against the stored rows (unit length for cosine)."""
        prepared: npt.NDArray[np.float32] = self.prepare(query.reshape(1, -1))[0]
        return prepared

    def candidates(
        self, query: npt.NDArray[np.float32], k: int, mask: Mask | None = None
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """Rows and scores of the exact top ``k`` (best first) among rows where ``mask`` is true."""
        if self._n == 0 or k <= 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float32)
        q = self.prepare_query(query)
        rows: npt.NDArray[np.intp] | None = None
        if mask is not None:
            matching = int(np.count_nonzero(mask))
            if matching == 0:
                return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float32)
            if matching < self._n * _GATHER_FRACTION:
                rows = np.flatnonzero(mask)
        scores = self._scores(q, rows)
        if mask is not None and rows is None:
            scores = np.where(mask, scores, -np.inf).astype(np.float32)
            available = int(np.count_nonzero(mask))
        else:
            available = scores.shape[0]
        k = min(k, available)
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[0] else np.arange(scores.shape[0])
        top = top[np.argsort(-scores[top], kind="stable")]
        picked = top if rows is None else rows[top]
        return picked.astype(np.intp), scores[top]

    def search(self, query: npt.NDArray[np.float32], k: int, mask: Mask | None = None) -> list[ScoredRow]:
        """The exact top ``k`` rows, best first."""
        rows, scores = self.candidates(query, k, mask)
        return [ScoredRow(int(r), float(s)) for r, s in zip(rows, scores, strict=True)]

    def search_mmr(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        fetch_k: int,
        lambda_mult: float,
        mask: Mask | None = None,
        *,
        candidates: tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]] | None = None,
    ) -> list[ScoredRow]:
        """Maximal marginal relevance over the top ``fetch_k``; scores are similarity to the query.

        ``candidates``: rows and scores found elsewhere (an HNSW graph's), instead of the exact top ``fetch_k``.
        """
        rows, scores = self.candidates(query, fetch_k, mask) if candidates is None else candidates
        if rows.size == 0:
            return []
        gathered = self.rows_matrix(rows)
        pool = self.prepare(gathered) if self.metric != "cosine" else gathered
        q = self.prepare(query.reshape(1, -1))[0]
        picked = maximal_marginal_relevance(q, pool, k=k, lambda_mult=lambda_mult)
        return [ScoredRow(int(rows[i]), float(scores[i])) for i in picked]


class ExactSearcher:
    """Exact top-k over the mirror's matrix, among the rows a filter's mask keeps."""

    def __init__(self, index: VectorIndex, mask: npt.NDArray[np.bool_] | None) -> None:
        self._index = index
        self._mask = mask

    def top(self, query: Query, n: int) -> Ranked:
        """The exact ``n`` best records."""
        scored = self._index.search(query, n, self._mask)
        ids = self._index.ids
        return Ranked([(ids[s.row], s.score) for s in scored], self._index)

    def diverse(self, query: Query, k: int, fetch_k: int, lambda_mult: float) -> Ranked:
        """MMR among the exact ``fetch_k`` best."""
        scored = self._index.search_mmr(query, k, fetch_k, lambda_mult, self._mask)
        return Ranked([(self._index.ids[s.row], s.score) for s in scored], self._index)

    def finish(self) -> None:
        """Nothing to do after the snapshot."""
