"""Approximate nearest neighbours: an HNSW graph (hnswlib) beside a collection's exact index.

The graph never replaces the exact :class:`~vecvault.index.VectorIndex`: it only proposes rows, which are
then scored exactly, so scores, relevance and ordering keep their exact-path meaning. It follows the
exact index as an observer (every upsert, remove and clear is noted) and catches up lazily: ``add``
commits at full speed and the graph is extended in batches by the first search that needs it.

Memory: hnswlib keeps every vector inside its own element records. Once the graph covers every row,
the exact index releases its matrix and reads rows back from the graph (:meth:`HnswIndex.gather`, the
same float32 values), so a large collection holds its vectors once; the stored graph leaves them out
(:meth:`HnswIndex.to_bytes`) and gets them back from the records on load.

Search contract (same as ``VectorIndex.candidates``): rows and scores of the best ``k`` rows, best first,
among rows where ``mask`` is true; never fewer than ``k`` when ``k`` rows match. Filters run inside the
graph search (hnswlib's ``filter`` callable); very selective filters, and any graph answer short of
``k``, go to the exact path instead.

Library choice (hnswlib over usearch and faiss HNSW) is measured in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from vecvault.errors import ConfigurationError, IntegrityError
from vecvault.search import memory
from vecvault.search.exact import Mask, VectorIndex

__all__ = ["DEFAULT_EF", "DEFAULT_EF_CONSTRUCTION", "DEFAULT_M", "EXACT_FILTER_FRACTION", "HnswIndex", "available"]

DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 128
DEFAULT_EF = 128
# Search breadth by graph size, measured on clustered 384-d vectors (benchmarks/RESULTS.md): ef=128 gives
# recall@10 0.997 at 100k but 0.85 at 1M, where M=16 needs ef=512 for 0.974 (1.2 ms).
_EF_BY_SIZE = ((250_000, DEFAULT_EF), (500_000, 256))
_EF_LARGE = 512
# A graph first built over this many records gets twice the links: at 1M, M=32 reaches recall@10 0.985 at
# ef=256 in 1.15 ms where M=16 needs ef=512 for 0.974 (build 1.4x longer, +128 bytes per record).
LARGE_GRAPH = 500_000
_M_LARGE = 32
_EF_LARGE_M32 = 256
# A filter matching fewer than this share of rows is answered exactly (gathering the few rows is cheaper
# than walking a graph where most neighbours are filtered out).
EXACT_FILTER_FRACTION = 0.05
_BATCH = 10_000
_REBUILD_MIN_DELETED = 1_000
_PROGRESS_AT = 50_000
_FORMAT = b"VVHNSW2\x00"  # v2: level-0 records without their vectors
_SPACES = {"cosine": "ip", "dot": "ip", "euclidean": "l2"}


def available() -> bool:
    """Whether hnswlib is installed."""
    try:
        import hnswlib  # noqa: F401
    except ImportError:
        return False
    return True


def _hnswlib() -> Any:
    try:
        import hnswlib
    except ImportError:
        raise ConfigurationError(
            "index='hnsw' needs hnswlib: pip install 'vecvault[ann]' (or pip install hnswlib)."
        ) from None
    return hnswlib


class HnswIndex:
    """An HNSW graph over the rows of one :class:`VectorIndex`, keyed by record id.

    Labels are stable integers per record id (rows of the exact index move on delete; labels do not).
    """

    def __init__(
        self,
        dim: int,
        metric: str,
        *,
        m: int | None = None,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        ef: int | None = None,
    ) -> None:
        """An empty graph; ``m`` None chooses the links per element by size when the graph is first built."""
        self.dim = dim
        self.metric = metric
        self.m = m if m is not None else DEFAULT_M
        self._m_chosen = m is not None
        self.ef_construction = ef_construction
        self.ef = ef
        self._graph: Any = None
        self._label_of: dict[str, int] = {}
        self._id_of: list[str | None] = []
        self._deleted = 0
        self._pending: dict[str, None] = {}
        self._removed: set[str] = set()
        self._source: VectorIndex | None = None
        self._row_labels: npt.NDArray[np.int64] | None = None  # exact-index row -> label, rebuilt lazily
        # The newest write version the graph reflects, once caught up: every record version written with a
        # rev up to it is in the graph (set from the source's authenticated revs, never a plaintext counter).
        self.rev: int | None = None
        self.dirty = False  # changed since it was last saved

    @property
    def ids_by_label(self) -> list[str | None]:
        """The record id of each graph label (None for a deleted element); read-only by convention."""
        return self._id_of

    @property
    def label_of(self) -> dict[str, int]:
        """The graph label of each live record id; read-only by convention."""
        return self._label_of

    @property
    def source(self) -> VectorIndex | None:
        """The exact index this graph follows (see :meth:`attach`)."""
        return self._source

    def install_graph(self, graph: Any) -> None:
        """Adopt an hnswlib index built from stored state (:class:`_Skeleton` builds it)."""
        self._graph = graph

    def __len__(self) -> int:
        return len(self._label_of)

    @property
    def deleted(self) -> int:
        """Elements marked deleted in the graph (their vectors still sit in its memory)."""
        return self._deleted

    # -- following the exact index -----------------------------------------------------------------------

    def on_upsert(self, ids: Sequence[str]) -> None:
        """Observer hook: these ids were inserted or replaced in the exact index."""
        for record_id in ids:
            self._removed.discard(record_id)
            self._pending[record_id] = None
        self._row_labels = None

    def on_remove(self, ids: Sequence[str]) -> None:
        """Observer hook: these ids were removed from the exact index."""
        for record_id in ids:
            self._pending.pop(record_id, None)
            if record_id in self._label_of:
                self._removed.add(record_id)
        self._row_labels = None

    def on_clear(self) -> None:
        """Observer hook: the exact index was emptied."""
        self._pending.clear()
        self._removed.update(self._label_of)
        self._row_labels = None

    def attach(self, source: VectorIndex) -> None:
        """Follow ``source`` from now on, reconciling with it first.

        Ids in ``source`` but not in the graph are queued; ids in the graph but gone from ``source`` are
        queued for deletion; ids rewritten since :attr:`rev` are queued for re-insertion. Which ids were
        rewritten is read from the write versions the source's rows were opened with (authenticated by
        their seals), never from a plaintext column: a record whose stored ``rev`` was lowered does not
        open, so it cannot hide from the graph.
        """
        changed = source.changed_since(self.rev) if self.rev is not None else ()
        if self._source is not None and self._source is not source:
            self._source.listener = None
        self._source = source
        source.listener = self
        present = set(source.ids)
        for record_id in self._label_of:
            if record_id not in present:
                self._removed.add(record_id)
        for record_id in source.ids:
            if record_id not in self._label_of:
                self._pending[record_id] = None
        for record_id in changed:
            if record_id in present:
                self._pending[record_id] = None
        self._row_labels = None

    @property
    def behind(self) -> int:
        """How many queued changes the graph has not applied yet."""
        return len(self._pending) + len(self._removed)

    def catch_up(self, *, progress: bool = True) -> int:
        """Apply queued changes to the graph in batches (a tqdm bar for long builds); return how many."""
        source = self._source
        if source is None:
            raise AssertionError("attach() first")
        done = 0
        for record_id in self._removed:
            label = self._label_of.pop(record_id, None)
            if label is not None:
                self._graph.mark_deleted(label)
                self._id_of[label] = None
                self._deleted += 1
                done += 1
        self._removed.clear()
        pending = [i for i in self._pending if i in source]
        self._pending.clear()
        if pending:
            self._ensure_graph(len(self._id_of) + len(pending))
            bar = _progress(len(pending)) if progress and len(pending) >= _PROGRESS_AT else None
            try:
                for start in range(0, len(pending), _BATCH):
                    chunk = pending[start : start + _BATCH]
                    rows = np.fromiter((source.row_of(i) for i in chunk), dtype=np.intp, count=len(chunk))
                    labels = np.empty(len(chunk), dtype=np.int64)
                    for j, record_id in enumerate(chunk):
                        label = self._label_of.get(record_id)
                        if label is None:
                            label = len(self._id_of)
                            self._id_of.append(record_id)
                            self._label_of[record_id] = label
                        labels[j] = label
                    self._graph.add_items(source.rows_matrix(rows), labels)
                    if bar is not None:
                        bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
            done += len(pending)
        if done:
            self.dirty = True
            self._row_labels = None
        return done

    def _ensure_graph(self, needed: int) -> None:
        hnswlib = _hnswlib()
        if self._graph is None:
            if not self._m_chosen:
                self.m = _M_LARGE if needed >= LARGE_GRAPH else DEFAULT_M
                self._m_chosen = True
            self._graph = hnswlib.Index(space=_SPACES[self.metric], dim=self.dim)
            self._graph.init_index(max_elements=max(needed, 1024), M=self.m, ef_construction=self.ef_construction)
        elif needed > self._graph.get_max_elements():
            self._graph.resize_index(max(needed, int(self._graph.get_max_elements() * 1.5)))

    # -- search ------------------------------------------------------------------------------------------

    def candidates(
        self, query: npt.NDArray[np.float32], k: int, mask: Mask | None = None
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """Rows and exact scores of (approximately) the best ``k`` rows of the source, best first."""
        source = self._source
        if source is None or self.behind:
            raise AssertionError("attach() and catch_up() before searching")
        n = len(source)
        if n == 0 or k <= 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float32)
        matching = n if mask is None else int(np.count_nonzero(mask))
        if matching == 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float32)
        want = min(k, matching)
        if matching <= max(want * 4, n * EXACT_FILTER_FRACTION) or len(self) < n:
            return source.candidates(query, k, mask)
        q = source.prepare_query(query)
        allowed = None
        if mask is not None:
            labels = self._labels_by_row()
            label_mask = np.zeros(len(self._id_of), dtype=np.bool_)
            label_mask[labels[mask]] = True
            allowed = label_mask
        self._graph.set_ef(max(self.search_ef(), want))
        try:
            if allowed is None:
                found, dist = self._graph.knn_query(q, k=want)
            else:
                check = allowed.__getitem__
                found, dist = self._graph.knn_query(q, k=want, filter=lambda label: bool(check(label)))
        except RuntimeError:  # hnswlib: fewer than k reachable under the filter
            return source.candidates(query, k, mask)
        rows = np.fromiter(
            (source.row_of(self._id_of[int(label)] or "") for label in found[0]), dtype=np.intp, count=found.shape[1]
        )
        if rows.size < want:
            return source.candidates(query, k, mask)
        # While the source is released, the graph computed these distances on the very vectors it holds.
        scores = self._scores_from_distances(dist[0]) if source.released else source.score_rows(q, rows)
        order = np.argsort(-scores, kind="stable")
        return rows[order], scores[order]

    def _scores_from_distances(self, dist: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The exact path's scores from hnswlib's distances (``1 - dot`` for ip, squared L2 for l2)."""
        if self.metric == "euclidean":
            scores: npt.NDArray[np.float32] = (1.0 / (1.0 + np.sqrt(np.maximum(dist, 0.0)))).astype(np.float32)
            return scores
        return (1.0 - dist).astype(np.float32)

    def gather(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:
        """The source's vectors of ``rows``, read from the graph's own copy (exactly the indexed values).

        Lets the source release its matrix (:meth:`VectorIndex.release_vectors`) once the graph holds
        every row, instead of keeping the vectors twice in memory.
        """
        labels = self._labels_by_row()[rows]
        out: npt.NDArray[np.float32] = np.asarray(self._graph.get_items(labels, return_type="numpy"), dtype=np.float32)
        return out.reshape(len(labels), self.dim)

    @property
    def needs_rebuild(self) -> bool:
        """Whether so many elements are deleted that a fresh graph is worth building.

        Deleted elements still route searches (hnswlib marks, it does not unlink); past a tenth of the
        graph they cost recall and memory, and after a reload they route through zero vectors.
        """
        return self._deleted > max(_REBUILD_MIN_DELETED, len(self._id_of) // 10)

    @property
    def covers_source(self) -> bool:
        """Whether every row of the source is in the graph, with nothing queued."""
        return self._source is not None and not self.behind and len(self) == len(self._source)

    def search_ef(self) -> int:
        """The ``ef`` used for queries: the one given, else one that grows with the graph (see _EF_BY_SIZE)."""
        if self.ef is not None:
            return self.ef
        size = len(self)
        for limit, ef in _EF_BY_SIZE:
            if size < limit:
                return ef
        return _EF_LARGE_M32 if self.m >= _M_LARGE else _EF_LARGE

    def _labels_by_row(self) -> npt.NDArray[np.int64]:
        if self._row_labels is None or self._row_labels.shape[0] != len(self._source or ()):
            source = self._source
            assert source is not None
            self._row_labels = np.fromiter((self._label_of[i] for i in source.ids), dtype=np.int64, count=len(source))
        return self._row_labels

    # -- serialisation (plaintext bytes: ann_store seals them) -------------------------------------------

    def to_bytes(self) -> bytes:
        """The graph's links, labels and parameters as bytes (no pickle), without its vectors.

        hnswlib keeps each element's vector inside its level-0 record (links ‖ vector ‖ label). The
        vectors are already sealed in the records and loaded into the exact index, so they are cut out
        here and put back by :meth:`from_bytes` from that index: the stored graph is ~10x smaller
        (140 of 1,676 bytes per element at 384-d) and a reopen decrypts the vectors once, not twice.
        A deleted element keeps its place and links but neither its id (already None) nor its vector, so
        nothing of a deleted record is written back; on load it gets a zero vector and stays deleted.
        """
        if self._graph is None:
            raise AssertionError("nothing to serialise")
        state = dict(self._graph.__getstate__()[0])
        level0 = state.pop("data_level0")
        count = int(state["cur_element_count"])
        size = int(state["size_data_per_element"])
        vector_start, vector_end = int(state["offset_data"]), int(state["label_offset"])
        if vector_end - vector_start != self.dim * 4:
            raise AssertionError("unexpected hnswlib element layout")
        records = level0.reshape(count, size)
        state["data_level0"] = np.concatenate((records[:, :vector_start], records[:, vector_end:]), axis=1)
        del level0, records
        arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
        scalars = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
        layout = []
        blobs: list[memoryview] = []
        for name, arr in arrays.items():
            data = np.ascontiguousarray(arr).data.cast("B")  # no copy before the final join
            layout.append([name, arr.dtype.str, list(arr.shape), data.nbytes])
            blobs.append(data)
        header = {
            "scalars": scalars,
            "arrays": layout,
            "ids": self._id_of,
            "params": {"dim": self.dim, "metric": self.metric, "m": self.m, "ef_construction": self.ef_construction},
            "deleted": self._deleted,
            "rev": self.rev,
        }
        head = json.dumps(header, separators=(",", ":")).encode()
        return b"".join([_FORMAT, struct.pack(">Q", len(head)), head, *blobs])

    @classmethod
    def from_bytes(cls, data: bytes | bytearray, source: VectorIndex, *, ef: int | None = None) -> HnswIndex:
        """Rebuild a graph from :meth:`to_bytes` output (already authenticated by the caller).

        Each element's vector is taken from ``source`` (the collection's exact index) by record id; an
        element whose record is gone gets a zero vector, and :meth:`attach` then marks it deleted.

        Raises:
            IntegrityError: the bytes are not a graph this version can read, or do not fit ``source``.
        """
        skeleton = cls.skeleton(data, source.dim, source.metric, ef=ef)
        out = skeleton.graph
        labels = skeleton.labels
        vectors = skeleton.vectors
        if len(labels) == len(source) and out.ids_by_label == source.ids:
            # Labels are the source's rows (built and reloaded in the same order): one scatter, no lookups.
            vectors[skeleton.position_of_label(np.arange(len(labels)))] = source.vectors
        else:
            ids = out.ids_by_label
            rows = np.fromiter(
                (_row_or_missing(source, ids[int(label)]) for label in labels), dtype=np.intp, count=len(labels)
            )
            present = rows >= 0
            vectors[present] = source.rows_matrix(rows[present])
            vectors[~present] = 0.0
        skeleton.install()
        return out

    @classmethod
    def skeleton(cls, data: bytes | bytearray, dim: int, metric: str, *, ef: int | None = None) -> GraphSkeleton:
        """Parse :meth:`to_bytes` output into a graph whose element vectors are still to be filled in.

        Raises:
            IntegrityError: the bytes are not a graph this version can read, or not one of ``dim``/``metric``.
        """
        try:
            if data[: len(_FORMAT)] != _FORMAT:
                raise ValueError("format")
            (size,) = struct.unpack_from(">Q", data, len(_FORMAT))
            start = len(_FORMAT) + 8
            header = json.loads(data[start : start + size])
            pos = start + size
            state = dict(header["scalars"])
            for name, dtype, shape, length in header["arrays"]:
                state[name] = np.frombuffer(
                    data, dtype=np.dtype(dtype), count=length // np.dtype(dtype).itemsize, offset=pos
                ).reshape(shape)
                pos += length
            params = header["params"]
            out = cls(params["dim"], params["metric"], m=params["m"], ef_construction=params["ef_construction"], ef=ef)
            if out.dim != dim or out.metric != metric:
                raise ValueError("params")
            out._id_of = list(header["ids"])
            ids: list[Any] = out._id_of
            if None in ids:
                out._label_of = {rid: label for label, rid in enumerate(ids) if rid is not None}
            else:
                out._label_of = dict(zip(ids, range(len(ids)), strict=True))
            out._deleted = int(header["deleted"])
            out.rev = header["rev"]
            count = int(state["cur_element_count"])
            record = int(state["size_data_per_element"])
            vector_start, vector_end = int(state["offset_data"]), int(state["label_offset"])
            if vector_end - vector_start != dim * 4 or record - vector_end != 8:
                raise ValueError("layout")
            stripped = state["data_level0"].reshape(count, record - dim * 4)
            level0 = memory.empty((count, record), np.int8)
            level0[:, :vector_start] = stripped[:, :vector_start]
            level0[:, vector_end:] = stripped[:, vector_start:]
            labels = level0[:, vector_end:].copy().view(np.uint64).ravel()
            if count and int(labels.max()) >= len(out._id_of):
                raise ValueError("labels")
        except (ValueError, KeyError, TypeError, IndexError, struct.error) as exc:
            raise IntegrityError(f"A stored HNSW graph could not be read ({type(exc).__name__}).") from None
        state["data_level0"] = level0
        return GraphSkeleton(out, state, level0, labels, level0[:, vector_start:vector_end].view(np.float32))

    def adopt(self, source: VectorIndex, row_labels: npt.NDArray[np.int64]) -> None:
        """Follow ``source``, known to hold exactly the graph's live elements; ``row_labels[row]`` is each row's label.

        The fast path of a reopen (:class:`GraphSkeleton` filled from the records): no reconciliation.
        """
        self._source = source
        source.listener = self
        self._row_labels = row_labels


def _row_or_missing(source: VectorIndex, record_id: str | None) -> int:
    row = None if record_id is None else source.row_of(record_id)
    return -1 if row is None else row


def _progress(total: int) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="vecvault: building HNSW index", unit="vec", leave=False)


class GraphSkeleton:
    """A stored graph parsed, with its elements' vector slots still to be filled (see :meth:`HnswIndex.skeleton`).

    ``vectors`` is a strided float32 view of those slots, one row per element in the graph's internal order;
    ``labels[i]`` is element ``i``'s label. :meth:`install` hands the records to hnswlib.
    """

    def __init__(
        self,
        graph: HnswIndex,
        state: dict[str, Any],
        level0: npt.NDArray[np.int8],
        labels: npt.NDArray[np.uint64],
        vectors: npt.NDArray[np.float32],
    ) -> None:
        self.graph = graph
        self.labels = labels
        self.vectors = vectors
        self._state = state
        self._level0 = level0

    def position_of_label(self, labels: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
        """The internal position of each element in ``labels`` (a permutation of the graph's own labels)."""
        position = np.empty(len(self.graph.ids_by_label), dtype=np.intp)
        position[self.labels.astype(np.intp)] = np.arange(len(self.labels), dtype=np.intp)
        return position[np.asarray(labels, dtype=np.intp)]

    def install(self) -> None:
        """Build the hnswlib index from the filled records (it copies them; the skeleton's buffer is freed)."""
        try:
            cls_ = _hnswlib().Index
            graph = cls_.__new__(cls_)  # pybind11 unpickling: __setstate__ constructs the instance
            self._state["data_level0"] = self._level0.reshape(-1)
            graph.__setstate__((self._state,))
        except (ValueError, TypeError, RuntimeError) as exc:
            raise IntegrityError(f"A stored HNSW graph could not be read ({type(exc).__name__}).") from None
        self.graph.install_graph(graph)
        self._state = {}
        self._level0 = np.empty((0, 0), dtype=np.int8)
        self.vectors = np.empty((0, self.graph.dim), dtype=np.float32)
