"""A sealed snapshot of a collection's mirror, so an open reads a few large blobs instead of every record.

The snapshot holds what the exact index needs, as of one collection revision ``S``: every record's id, its
authenticated write version, its position in the records table (rowid), its squared norm and its vector as
indexed (unit length for cosine). It is sealed in chunks (:mod:`vecvault.crypto.chunked`, kind
``SNAPSHOT``, 1 MiB each) under the collection's primary data key; the chunks' AAD binds the vault, the
collection, ``S``, the chunk index and count and a random id of the save, and the sealed header names the
epoch, dimension and metric.

An open loads it in three steps, inside one read snapshot of the database:

1. the chunks are authenticated straight into the final matrix (no intermediate copy of the vectors), by
   two threads on two more connections where the database allows them (their reads may see a later save:
   the save id refuses any mix);
2. the records written after ``S`` are read and opened as usual, and the deletion log after ``S`` applied;
3. the result is checked against the records table: the ``(rev, rowid)`` of every record, read from the
   ``(collection, rev)`` index alone, must be exactly those of the loaded rows.

Any failure (a tampered, truncated, foreign, moved or re-ordered chunk; another epoch, dimension or metric;
a record table that disagrees with the loaded rows) makes the mirror load from the records instead, and
the snapshot is stored again. What step 3 cannot see is an edit that restores, in plaintext, a record's
earlier ``rev`` *and* rowid beside its newer sealed fields: its ranking then uses the earlier vector (as a
whole-record rollback would, the documented limit of :mod:`vecvault.crypto`), and returning it as a hit
fails, because its text and metadata do not open under the earlier version.

A delete drops the snapshot (nothing of a deleted record stays in the file); an overwritten record's
earlier vector stays in the sealed snapshot until it is stored again. The mirror stores it after a load
from the records, once ``max(SNAPSHOT_MIN, n // 10)`` records changed since, or on
:meth:`vecvault.Collection.compact`.
"""

from __future__ import annotations

import json
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vecvault.crypto import chunked
from vecvault.errors import IntegrityError, StorageError
from vecvault.search.base import Page, StaleSourceError
from vecvault.search.exact import VectorIndex
from vecvault.storage import CollectionRow

if TYPE_CHECKING:
    from vecvault.engine import VaultCore

__all__ = ["SNAPSHOT_MIN", "SnapshotKeeper"]

# Below this many records a load from the records is as fast as a snapshot: none is stored.
SNAPSHOT_MIN = 1_000
_FORMAT = b"VVSNAP1\x00"
_HEAD = struct.Struct("<Q")
_ROWS_PER_CHUNK_MIN = 1
# Chunk size. Measured on libsql 0.1.11, one chunk per statement: 256 KiB blobs read at 1.9 GB/s, 1 MiB at
# 1.7 GB/s, 4 MiB at 0.76 GB/s; a whole 200k x 384 open took 0.43 s with 256 KiB chunks (more statements),
# 0.38 s with 1 MiB and 0.38 s with 4 MiB. 1 MiB also keeps a server's round trips few.
CHUNK_BYTES = 2**20
_PARALLEL_MIN_CHUNKS = 4  # fewer vector chunks than this are read on one connection
# Over a server each statement is a round trip of several milliseconds: measured over sqld on loopback,
# 6.7 ms per 1 MiB chunk one by one, 2.3 ms per chunk sixteen at a time.
_REMOTE_CHUNKS_PER_STATEMENT = 16


def _rows_per_chunk(dim: int) -> int:
    return max(_ROWS_PER_CHUNK_MIN, CHUNK_BYTES // (4 * dim))


class _StaleError(Exception):
    """The stored snapshot cannot be used (not an error: the mirror loads from the records)."""


class SnapshotKeeper:
    """One collection's stored snapshot: load it with its delta, and store it again when it is due.

    Call every method with the vault lock held. ``apply_rows`` opens ``(id, rev, vector)`` rows into an
    index (the mirror's own loader, so the delta is opened exactly as any other change).
    """

    def __init__(
        self,
        core: VaultCore,
        name: str,
        apply_rows: Callable[[VectorIndex, Sequence[tuple[Any, ...]], int], None],
    ) -> None:
        self._core = core
        self._name = name
        self._apply_rows = apply_rows
        self._baseline: int | None = None  # the revision of the last snapshot loaded or stored here
        self._due = False
        self._failed = False  # the stored snapshot did not load: store a fresh one
        self._checked_rev: int | None = None  # the revision note_changes last counted at
        self.loaded_from_snapshot = False  # the last load came from the snapshot (for tests and benchmarks)

    # -- when to store -----------------------------------------------------------------------------------

    def _usable(self, config: CollectionRow) -> bool:
        """Whether this collection can load from a snapshot (sealed vectors whose revs are authenticated)."""
        return (
            sys.byteorder == "little"
            and config.vectors != "plain"
            and config.dim > 0
            and not self._core.keys.keyset.has_live_legacy_keys(self._name)  # v1 revs prove nothing
        )

    def _storable(self, config: CollectionRow) -> bool:
        """Whether a snapshot can be stored (as for loading, and the vault is writable)."""
        return self._usable(config) and not self._core.storage.read_only

    def note_loaded(self, config: CollectionRow, index: VectorIndex) -> None:
        """The mirror loaded from the records: store a snapshot if the collection is large enough."""
        self.loaded_from_snapshot = False
        self._baseline = None
        if not self._storable(config) or len(index) < SNAPSHOT_MIN:
            self._due = False
            return
        # A load that needed metadata does not try the snapshot: one stored is left for the next open to
        # use (and check), unless it just failed to load; later changes are counted from its revision.
        stored = None if self._failed else self._core.storage.snapshot_rev(self._name)
        self._baseline = stored
        self._due = stored is None
        self._failed = False

    def note_changes(self, config: CollectionRow, index: VectorIndex, rev: int) -> None:
        """After a read of ``index`` as of ``rev``: store again once enough records changed since the last snapshot.

        Counted from the rows' authenticated write versions, once per revision (reads without writes in
        between cost nothing). A delete drops the stored snapshot without making one due (a loop of deletes
        and searches would store it again each time): the next open loads from the records and stores it,
        or enough later changes do.
        """
        if rev == self._checked_rev:
            return
        self._checked_rev = rev
        if self._due or not self._storable(config) or len(index) < SNAPSHOT_MIN:
            return
        if self._baseline is None:
            self._due = True  # grown past SNAPSHOT_MIN since the load, and none stored yet
            return
        changed = int(np.count_nonzero(index.revs > self._baseline))
        self._due = changed >= max(SNAPSHOT_MIN, len(index) // 10)

    # -- loading -----------------------------------------------------------------------------------------

    def load(self, config: CollectionRow, state: tuple[int, int]) -> VectorIndex | None:
        """The index as of ``state`` from the stored snapshot and its delta, or None to load from the records.

        Call inside a read snapshot of the database.
        """
        self.loaded_from_snapshot = False
        if not self._usable(config) or self._core.storage.snapshot_rev(self._name) is None:
            return None
        try:
            index, rev, delta = self._open(config, state)
        except (_StaleError, IntegrityError, StorageError, TypeError, ValueError, OverflowError):
            # A snapshot that does not open, or disagrees with the records, is never trusted: load from the
            # records (which also reports a damaged record) and store a fresh one.
            self._failed = True
            return None
        self.loaded_from_snapshot = True
        self._baseline = rev
        self._due = delta >= max(SNAPSHOT_MIN, len(index) // 10)
        return index

    def _open(self, config: CollectionRow, state: tuple[int, int]) -> tuple[VectorIndex, int, int]:
        """Authenticate the snapshot into an index, apply its delta and check it.

        Returns the index, the snapshot's revision and how many records its delta held. The vector chunks
        are read by other threads while this one lays out the index and reads the delta and the records'
        versions.
        """
        storage = self._core.storage
        reader, head = self._first_chunk(config, state)
        count = head.count
        # The final matrix, with room to grow; each chunk is authenticated straight into its rows.
        matrix = np.empty((max(64, count + count // 8), config.dim), dtype=np.float32)
        vectors = _VectorChunks(storage, reader, self._name, matrix, head)
        vectors.start()
        try:
            ids, revs, rowids, sq_norms = self._rest_of_head(reader, head)
            try:
                index = VectorIndex.from_prepared(config.dim, config.metric, ids, matrix, sq_norms, revs)
            except ValueError:
                raise _StaleError from None
            rev = reader.rev
            deleted = storage.deletions_since(self._name, rev)
            changed = storage.records_with_rowids_since(self._name, ["rev", "vector"], rev)
            listed = storage.record_versions(self._name)
        except BaseException:
            vectors.cancel()
            raise
        finally:
            vectors.join()  # raises what a reading thread raised
        reader.finish()
        keep = np.ones(count, dtype=np.bool_)
        for record_id in [*deleted, *(str(row[0]) for row in changed)]:
            row = index.row_of(record_id)
            if row is not None:
                keep[row] = False  # its snapshot version is gone or rewritten
        index.remove(deleted)
        self._apply_rows(index, [(row[0], row[2], row[3]) for row in changed], config.dim)
        # The delta's rows opened under their revs: those, and the snapshot's, are authenticated.
        fresh = np.array([(row[2], row[1]) for row in changed], dtype=np.int64).reshape(-1, 2)
        _check_versions(listed, np.concatenate((np.stack((revs, rowids), axis=1)[keep], fresh)))
        return index, rev, len(changed) + len(deleted)

    def is_current(self, config: CollectionRow, state: tuple[int, int]) -> bool:
        """Whether a stored snapshot says it reflects ``state``'s revision (a hint, checked by :meth:`pages`)."""
        return self._usable(config) and self._core.storage.snapshot_rev(self._name) == state[0]

    def pages(self, config: CollectionRow, state: tuple[int, int]) -> Iterator[Page]:
        """A current snapshot's records chunk by chunk, for the HNSW graph's fast reopen.

        The snapshot must account for every record as it is (no delta): that is checked before the first
        page. Pages reuse one buffer (copy what you keep). Any mismatch raises :class:`StaleSourceError`.
        """
        storage = self._core.storage
        try:
            reader, head = self._first_chunk(config, state)
            ids, revs, rowids, _ = self._rest_of_head(reader, head)
            rev = reader.rev
            if storage.deletions_since(self._name, rev) or storage.records_with_rowids_since(self._name, ["rev"], rev):
                raise _StaleError
            _check_versions(storage.record_versions(self._name), np.stack((revs, rowids), axis=1))
            buffer = np.empty((head.per_chunk, config.dim), dtype=np.float32)
            flat = buffer.data.cast("B")
            width = 4 * config.dim
            for batch in head.batches(remote=storage.remote):
                for chunk in _read_batch(storage, self._name, batch):
                    first, end = head.rows_of(chunk.index)
                    reader.open_at_into(chunk, flat[: (end - first) * width])
                    yield ids[first:end], revs[first:end], buffer[: end - first], None
            reader.finish()
        except (_StaleError, IntegrityError, StorageError, TypeError, ValueError, OverflowError):
            self._failed = True
            raise StaleSourceError from None
        self._baseline = rev
        self.loaded_from_snapshot = True
        self._due = False

    def _first_chunk(self, config: CollectionRow, state: tuple[int, int]) -> tuple[chunked.ChunkReader, _Head]:
        """Open chunk 0 and check its header against the collection; the reader then takes the rest."""
        core, storage = self._core, self._core.storage
        reader = chunked.ChunkReader(chunked.SNAPSHOT, core.keys.keyset, core.keys.vault_id, self._name)
        numbers = storage.snapshot_chunk_numbers(self._name)
        if not numbers or numbers != list(range(len(numbers))):
            raise _StaleError
        first = bytearray(reader.open(_read_batch(storage, self._name, range(1))[0]))
        header = _parse_header(first)
        if (
            header.get("collection") != self._name
            or header.get("rev") != reader.rev
            or header.get("epoch") != state[1]
            or header.get("dim") != config.dim
            or header.get("metric") != config.metric
        ):
            raise _StaleError  # another collection's, epoch's or configuration's snapshot
        head = _Head(
            first=first,
            count=_int(header, "count"),
            size=_int(header, "head_bytes"),
            chunks=_int(header, "head_chunks"),
            per_chunk=_int(header, "rows_per_chunk"),
            ids_bytes=_int(header, "ids_bytes"),
            start=len(_FORMAT) + _HEAD.size + _int(header, "json_bytes"),
        )
        if head.per_chunk != _rows_per_chunk(config.dim) or not (
            len(numbers) == reader.count == head.chunks + head.vector_chunks
        ):
            raise _StaleError
        return reader, head

    def _rest_of_head(
        self, reader: chunked.ChunkReader, head: _Head
    ) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The head's other chunks, opened: the ids, revs, rowids and squared norms of every row."""
        data = head.first
        for number in range(1, head.chunks):
            data += reader.open_at(_read_batch(self._core.storage, self._name, range(number, number + 1))[0])
        count, start = head.count, head.start
        if len(data) != head.size or start + head.ids_bytes + 20 * count != head.size:
            raise _StaleError
        ids = data[start : start + head.ids_bytes].decode().split("\x00") if count else []
        at = start + head.ids_bytes
        revs = np.frombuffer(data, dtype="<i8", count=count, offset=at).astype(np.int64)
        rowids = np.frombuffer(data, dtype="<i8", count=count, offset=at + 8 * count).astype(np.int64)
        sq_norms = np.frombuffer(data, dtype="<f4", count=count, offset=at + 16 * count).astype(np.float32)
        head.first = bytearray()
        if len(ids) != count or (count and int(revs.min()) < 0):
            raise _StaleError
        return ids, revs, rowids, sq_norms

    # -- storing -----------------------------------------------------------------------------------------

    def save_if_due(self, config: CollectionRow, index: VectorIndex | None, known: tuple[int, int] | None) -> None:
        """Store the snapshot if due (outside the read snapshot); ``known`` is the state ``index`` reflects."""
        if not self._due or index is None or known is None:
            return
        self._due = False
        self.save(config, index, known)

    def save(self, config: CollectionRow, index: VectorIndex, known: tuple[int, int]) -> bool:
        """Seal and store ``index`` as the snapshot of ``known``; False if the database moved on meanwhile.

        One write transaction: a crash at any point leaves the previous snapshot or none, never a part.
        """
        if not self._storable(config) or (len(index) and int(index.revs.min()) < 0):
            return False
        core, storage = self._core, self._core.storage
        count, dim = len(index), config.dim
        per_chunk = _rows_per_chunk(dim)
        # Chunks to seal, for the key's encryption count (the head's exact size needs the rowids, read below).
        estimate = chunked.chunk_count(sum(map(len, index.ids)) + 21 * count + 4096, CHUNK_BYTES) + -(
            -count // per_chunk
        )
        try:
            with core.write(self._name, estimate) as primary:
                if storage.revision(self._name) != known:
                    return False  # written since the mirror synced: the next read catches up first
                rowid_of = dict(storage.record_rowids(self._name))
                if len(rowid_of) != count:
                    return False
                try:
                    rowids = np.fromiter((int(rowid_of[i]) for i in index.ids), dtype=np.int64, count=count)
                except (KeyError, TypeError, ValueError):
                    return False
                del rowid_of
                head = _head(self._name, known, config, index, rowids)
                head_chunks = chunked.chunk_count(len(head), CHUNK_BYTES)
                total = head_chunks + (-(-count // per_chunk) if count else 0)
                parts = _parts(head, index, per_chunk)
                chunks = chunked.seal_chunks(
                    chunked.SNAPSHOT, primary, core.keys.vault_id, self._name, known[0], parts, total
                )
                storage.save_snapshot(self._name, ((c.index, c.count, c.rev, c.key_id, c.blob) for c in chunks))
        except StorageError:
            self._due = True  # busy, or the file is read-only now: try after a later read
            return False
        self._baseline = known[0]
        return True


class _VectorChunks:
    """Reads a snapshot's vector chunks into the final matrix in two threads, each on its own connection.

    libSQL releases the GIL while it reads (and during the server round trip, remotely), so the two
    threads read at once while the calling thread goes on; each chunk is authenticated straight into its
    own rows of the matrix. The other connections may see a later save than the caller's read snapshot:
    the chunks' save id (bound by their AAD) refuses any mix. Without a second connection (``:memory:``,
    an embedded replica) or for a small snapshot, the caller's connection reads them all, in :meth:`join`.
    """

    def __init__(
        self, storage: Any, reader: chunked.ChunkReader, name: str, matrix: npt.NDArray[np.float32], head: _Head
    ) -> None:
        self._storage = storage
        self._reader = reader
        self._name = name
        self._flat = matrix.data.cast("B")
        self._width = 4 * matrix.shape[1]
        self._head = head
        self._batches = head.batches(remote=storage.remote)
        self._threads: list[threading.Thread] = []
        self._failures: list[BaseException] = []
        self._cancelled = False

    def start(self) -> None:
        """Start the reading threads (none for a small snapshot, or without a second connection)."""
        if self._head.vector_chunks < _PARALLEL_MIN_CHUNKS or not self._storage.can_open_readers:
            return
        for part in (self._batches[0::2], self._batches[1::2]):
            thread = threading.Thread(target=self._read_part, args=(part,), name="vecvault-snapshot", daemon=True)
            self._threads.append(thread)
            thread.start()

    def cancel(self) -> None:
        """Make the threads stop after their current chunk (the caller failed: the matrix is dropped)."""
        self._cancelled = True

    def join(self) -> None:
        """Wait for the threads (or read every chunk here); raise the first failure."""
        if self._cancelled:
            for thread in self._threads:
                thread.join()
            return
        if not self._threads:
            self._fill(self._storage, self._batches)
            return
        for thread in self._threads:
            thread.join()
        if self._failures:
            raise self._failures[0]

    def _read_part(self, batches: Sequence[range]) -> None:
        try:
            with self._storage.reader() as other:
                if other is None:
                    raise _StaleError
                with other.snapshot():
                    self._fill(other, batches)
        except BaseException as exc:  # re-raised by join() in the calling thread
            self._failures.append(exc)

    def _fill(self, storage: Any, batches: Sequence[range]) -> None:
        for batch in batches:
            if self._failures or self._cancelled:
                return
            for chunk in _read_batch(storage, self._name, batch):
                first, end = self._head.rows_of(chunk.index)
                self._reader.open_at_into(chunk, self._flat[first * self._width : end * self._width])


@dataclass
class _Head:
    """What chunk 0 of a snapshot says, and its plaintext (the start of the head)."""

    first: bytearray
    count: int
    size: int
    chunks: int
    per_chunk: int
    ids_bytes: int
    start: int

    @property
    def vector_chunks(self) -> int:
        """How many chunks hold the vectors."""
        return -(-self.count // self.per_chunk) if self.count else 0

    def rows_of(self, number: int) -> tuple[int, int]:
        """The first row and the end of the rows that vector chunk ``number`` holds."""
        first = (number - self.chunks) * self.per_chunk
        return first, min(self.count, first + self.per_chunk)

    def batches(self, *, remote: bool) -> list[range]:
        """The vector chunks as runs read by one statement each: one chunk locally, several from a server."""
        size = _REMOTE_CHUNKS_PER_STATEMENT if remote else 1
        end = self.chunks + self.vector_chunks
        return [range(start, min(end, start + size)) for start in range(self.chunks, end, size)]


def _read_batch(storage: Any, name: str, batch: range) -> list[chunked.SealedChunk]:
    """The stored chunks numbered ``batch``, in one statement; _StaleError if any is missing."""
    rows = storage.snapshot_chunks(name, batch.start, batch.stop)
    if [row[0] for row in rows] != list(batch):
        raise _StaleError
    return [chunked.SealedChunk(*row) for row in rows]


def _check_versions(listed: bytes, expected: npt.NDArray[np.int64]) -> None:
    """Raise _StaleError unless the records table's ``(rev, rowid)`` list is exactly ``expected`` (any order)."""
    got = np.frombuffer(listed, dtype=">i8")
    if got.size != expected.size:
        raise _StaleError
    ordered = expected[np.lexsort((expected[:, 1], expected[:, 0]))]
    if not np.array_equal(got.reshape(-1, 2), ordered):
        raise _StaleError  # a record the snapshot and its delta do not account for, or a changed version


def _int(header: dict[str, Any], name: str) -> int:
    value = header.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _StaleError
    return value


def _parse_header(head: bytearray) -> dict[str, Any]:
    if head[: len(_FORMAT)] != _FORMAT or len(head) < len(_FORMAT) + _HEAD.size:
        raise _StaleError
    (size,) = _HEAD.unpack_from(head, len(_FORMAT))
    start = len(_FORMAT) + _HEAD.size
    try:
        header = json.loads(head[start : start + size])
    except ValueError:
        raise _StaleError from None
    if not isinstance(header, dict) or header.get("json_bytes") != size:
        raise _StaleError
    return header


def _head(
    name: str, known: tuple[int, int], config: CollectionRow, index: VectorIndex, rowids: npt.NDArray[np.int64]
) -> bytes:
    """The snapshot's head: format, header, then ids, revs, rowids and squared norms of every row."""
    count = len(index)
    ids = "\x00".join(index.ids).encode()
    per_chunk = _rows_per_chunk(config.dim)
    header: dict[str, Any] = {
        "collection": name,
        "rev": known[0],
        "epoch": known[1],
        "dim": config.dim,
        "metric": config.metric,
        "count": count,
        "ids_bytes": len(ids),
        "rows_per_chunk": per_chunk,
    }
    # The header states its own length and the head's, so fix both before encoding it for good.
    header["json_bytes"] = header["head_bytes"] = header["head_chunks"] = 0
    for _ in range(3):
        encoded = json.dumps(header, separators=(",", ":")).encode()
        head_bytes = len(_FORMAT) + _HEAD.size + len(encoded) + len(ids) + 20 * count
        header.update(
            json_bytes=len(encoded), head_bytes=head_bytes, head_chunks=chunked.chunk_count(head_bytes, CHUNK_BYTES)
        )
    encoded = json.dumps(header, separators=(",", ":")).encode()
    if len(encoded) != header["json_bytes"]:
        raise AssertionError("snapshot header length did not settle")
    return b"".join(
        (
            _FORMAT,
            _HEAD.pack(len(encoded)),
            encoded,
            ids,
            index.revs.astype("<i8").tobytes(),
            rowids.astype("<i8").tobytes(),
            index.sq_norms.astype("<f4").tobytes(),
        )
    )


def _parts(head: bytes, index: VectorIndex, per_chunk: int) -> Iterator[bytes | memoryview]:
    """The snapshot's chunk plaintexts: the head cut every CHUNK_BYTES, then ``per_chunk`` vector rows each."""
    view = memoryview(head)
    for start in range(0, len(head), CHUNK_BYTES):
        yield view[start : start + CHUNK_BYTES]
    count = len(index)
    for first in range(0, count, per_chunk):
        rows = np.arange(first, min(count, first + per_chunk), dtype=np.intp)
        block = index.rows_matrix(rows) if index.released else index.vectors[first : first + rows.size]
        yield np.ascontiguousarray(block, dtype="<f4").data.cast("B")
