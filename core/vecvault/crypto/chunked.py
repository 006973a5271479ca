"""Large sealed values in chunks: a collection's HNSW graph and its mirror snapshot.

Each kind of value (:data:`GRAPH`, :data:`SNAPSHOT`) is sealed with AES-256-GCM under its own subkey of the
collection's primary data key and cut into chunks of about :data:`CHUNK_BYTES`. Each chunk is
``key_id (4, big-endian) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`` and its AAD binds the kind, the vault id,
the collection, the collection revision the value reflects, the chunk's index and the chunk count, so a
chunk cannot be moved to another kind, vault, collection, revision or position, and a dropped or added
chunk is detected. A snapshot's chunks also carry, and bind, a random id of the save that wrote them
(``key_id ‖ save_id (16) ‖ nonce ‖ ...``): two saves of the same revision never mix, even when read
through two connections. Every failure is an :class:`~vecvault.errors.IntegrityError`; the caller then rebuilds
the value from the records, never trusting the stored one.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from vecvault.crypto.aead import NONCE_BYTES, TAG_BYTES, Aead, _length_prefixed
from vecvault.crypto.kdf import derive_subkey
from vecvault.crypto.keyset import DataKey, Keyset, KeyState
from vecvault.errors import IntegrityError

__all__ = [
    "CHUNK_BYTES",
    "GRAPH",
    "SNAPSHOT",
    "ChunkKind",
    "ChunkReader",
    "SealedChunk",
    "chunk_count",
    "open_graph",
    "seal_chunks",
    "seal_graph",
]

CHUNK_BYTES = 4 * 2**20
_KEY_ID = struct.Struct(">I")
SAVE_ID_BYTES = 16


@dataclass(frozen=True)
class ChunkKind:
    """One kind of chunked value: its AAD tag, subkey purpose, name in messages, and whether it has save ids."""

    aad_tag: bytes
    purpose: str
    what: str
    per_save: bool = False

    @property
    def prefix(self) -> int:
        """Bytes of a sealed chunk before its nonce (key id, and save id where the kind has one)."""
        return _KEY_ID.size + (SAVE_ID_BYTES if self.per_save else 0)

    @property
    def overhead(self) -> int:
        """Sealed chunk bytes beyond its plaintext."""
        return self.prefix + NONCE_BYTES + TAG_BYTES


GRAPH = ChunkKind(b"vecvault/ann-graph/v1", "ann-graph", "stored graph")
SNAPSHOT = ChunkKind(b"vecvault/mirror-snapshot/v1", "mirror-snapshot", "stored snapshot", per_save=True)


@dataclass(frozen=True)
class SealedChunk:
    """One stored chunk of a sealed value."""

    index: int
    count: int
    rev: int
    key_id: int
    blob: bytes


def _aad(
    kind: ChunkKind, vault_id: bytes, collection: str, rev: int, index: int, count: int, key_id: int, save_id: bytes
) -> bytes:
    parts = [kind.aad_tag, vault_id, collection.encode(), struct.pack(">QII", rev, index, count), _KEY_ID.pack(key_id)]
    if kind.per_save:
        parts.append(save_id)
    return _length_prefixed(parts)  # the encoding of every vecvault AAD (vecvault.crypto.aead)


def _aead(kind: ChunkKind, key: DataKey) -> Aead:
    if key.material is None or key.state is KeyState.DESTROYED:
        raise IntegrityError(f"Data key {key.key_id} was destroyed; the {kind.what} cannot be opened.")
    if key.state is KeyState.DISABLED:
        raise IntegrityError(f"Data key {key.key_id} is disabled; the {kind.what} cannot be opened while it is.")
    return Aead(derive_subkey(key.material, kind.purpose))


def chunk_count(size: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """How many chunks a value of ``size`` bytes is sealed into when cut every ``chunk_bytes``."""
    return max(1, -(-size // chunk_bytes))


def seal_chunks(
    kind: ChunkKind,
    key: DataKey,
    vault_id: bytes,
    collection: str,
    rev: int,
    parts: Iterable[bytes | memoryview],
    count: int,
) -> Iterator[SealedChunk]:
    """Seal ``count`` plaintext parts, in order, as the chunks of one value under ``key``.

    A generator over a generator: the caller stores each chunk before the next part is made and sealed,
    so sealing holds one chunk of ciphertext at a time beside the plaintext.

    Raises:
        AssertionError: ``parts`` yields another number of parts than ``count``.
    """
    aead = _aead(kind, key)
    save_id = os.urandom(SAVE_ID_BYTES) if kind.per_save else b""
    prefix = _KEY_ID.pack(key.key_id) + save_id
    index = 0
    for part in parts:
        if index >= count:
            raise AssertionError("more parts than the chunk count")
        nonce = os.urandom(NONCE_BYTES)
        aad = _aad(kind, vault_id, collection, rev, index, count, key.key_id, save_id)
        sealed = aead.encrypt_unchecked(nonce, part, aad)
        key.encryptions += 1
        yield SealedChunk(index, count, rev, key.key_id, prefix + nonce + sealed)
        index += 1
    if index != count:
        raise AssertionError("fewer parts than the chunk count")


def seal_graph(key: DataKey, vault_id: bytes, collection: str, rev: int, data: bytes) -> Iterator[SealedChunk]:
    """Seal graph bytes chunk by chunk under ``key`` (the collection's primary data key)."""
    count = chunk_count(len(data))
    view = memoryview(data)
    parts = (view[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES] for i in range(count))
    return seal_chunks(GRAPH, key, vault_id, collection, rev, parts, count)


class ChunkReader:
    """Authenticates the chunks of one stored value, each into a buffer the caller picks.

    The first chunk (index 0) fixes the value's revision, chunk count and save id; every later one must
    agree (its AAD binds them) and be sealed under a data key of this collection. :meth:`open` takes the
    chunks in order; :meth:`open_at` and :meth:`open_at_into` take the chunks after the first in any order,
    from any thread (each chunk once). Call :meth:`finish` after the last: a value with chunks
    missing is refused there.
    """

    def __init__(self, kind: ChunkKind, keyset: Keyset, vault_id: bytes, collection: str) -> None:
        self._kind = kind
        self._keyset = keyset
        self._vault_id = vault_id
        self._collection = collection
        self._aeads: dict[int, Aead] = {}
        self._seen = bytearray()
        self._lock = threading.Lock()  # open_at_into may run in two threads at once
        self._save_id = b""
        self.count = -1
        self.rev = -1
        self.opened = 0

    def _fail(self, what: str) -> IntegrityError:
        return IntegrityError(f"The {self._kind.what} {what}.")

    def plaintext_size(self, chunk: SealedChunk) -> int:
        """The length of a chunk's plaintext (from its sealed length; -1 if it is too short to be a chunk)."""
        overhead = self._kind.overhead
        return len(chunk.blob) - overhead if isinstance(chunk.blob, bytes) and len(chunk.blob) >= overhead else -1

    def _check(self, chunk: SealedChunk, *, in_order: bool) -> tuple[Aead, bytes, bytes]:
        kind = self._kind
        blob = chunk.blob
        if not isinstance(blob, bytes) or len(blob) < kind.overhead:
            raise self._fail("has a truncated chunk")
        if self.opened == 0:
            if chunk.index != 0:
                raise self._fail("has missing, extra or reordered chunks")
            self.count, self.rev = chunk.count, chunk.rev
            if self.count < 1:
                raise self._fail("has a bad chunk count")
            self._seen = bytearray(self.count)
            self._save_id = blob[_KEY_ID.size : kind.prefix]
        elif (
            not 0 < chunk.index < self.count
            or self._seen[chunk.index]
            or (in_order and chunk.index != self.opened)
            or blob[_KEY_ID.size : kind.prefix] != self._save_id
        ):
            raise self._fail("has missing, extra, reordered or mixed chunks")
        (key_id,) = _KEY_ID.unpack_from(blob)
        aead = self._aeads.get(key_id)
        if aead is None and kind.per_save and self.opened:
            # One save seals every chunk under one key, the first chunk's: never look another up (which
            # could reload keys on the caller's connection from a reading thread).
            raise self._fail("has missing, extra, reordered or mixed chunks")
        if aead is None:
            key = self._keyset.get(key_id)
            if key is None and self._keyset.on_unknown_key is not None:
                self._keyset.on_unknown_key(key_id)  # another connection may have just rotated and saved one
                key = self._keyset.get(key_id)
            if key is None or key.scope != self._collection:
                raise self._fail("names a data key this collection does not have")
            aead = self._aeads[key_id] = _aead(kind, key)
        aad = _aad(kind, self._vault_id, self._collection, self.rev, chunk.index, self.count, key_id, self._save_id)
        return aead, blob[kind.prefix : kind.prefix + NONCE_BYTES], aad

    def _done(self, chunk: SealedChunk) -> None:
        with self._lock:
            if self._seen[chunk.index]:
                raise self._fail("has a chunk twice")
            self._seen[chunk.index] = 1
            self.opened += 1

    def open(self, chunk: SealedChunk) -> bytes:
        """The next chunk's plaintext."""
        return self._open(chunk, in_order=True)

    def open_at(self, chunk: SealedChunk) -> bytes:
        """Like :meth:`open` for any chunk after the first, in any order (each once)."""
        if self.opened == 0:
            raise self._fail("has missing, extra, reordered or mixed chunks")
        return self._open(chunk, in_order=False)

    def _open(self, chunk: SealedChunk, *, in_order: bool) -> bytes:
        aead, nonce, aad = self._check(chunk, in_order=in_order)
        try:
            out = aead.decrypt_unchecked(nonce, memoryview(chunk.blob)[self._kind.prefix + NONCE_BYTES :], aad)
        except (InvalidTag, ValueError):
            raise self._fail("failed authentication: altered, moved or stale") from None
        self._done(chunk)
        return out

    def open_at_into(self, chunk: SealedChunk, out: memoryview) -> None:
        """Authenticate a chunk after the first straight into ``out``, exactly its plaintext's length.

        Any order, each chunk once. On failure ``out`` holds garbage: the caller drops what it was filling.
        """
        if self.opened == 0:
            raise self._fail("has missing, extra, reordered or mixed chunks")
        aead, nonce, aad = self._check(chunk, in_order=False)
        if len(out) != self.plaintext_size(chunk):
            raise self._fail("has a chunk of the wrong size")
        try:
            aead.decrypt_into_unchecked(nonce, memoryview(chunk.blob)[self._kind.prefix + NONCE_BYTES :], aad, out)
        except (InvalidTag, ValueError):
            raise self._fail("failed authentication: altered, moved or stale") from None
        self._done(chunk)

    def finish(self) -> None:
        """Raise unless every chunk of the value was opened."""
        if self.opened == 0:
            raise self._fail("is missing")
        if self.opened != self.count:
            raise self._fail("has missing chunks")


def open_graph(
    keyset: Keyset, vault_id: bytes, collection: str, chunks: Iterable[SealedChunk]
) -> tuple[int, bytearray]:
    """Authenticate stored graph chunks, in index order, into one buffer; return ``(rev, graph bytes)``.

    ``chunks`` may be a generator reading one chunk at a time from the database: only one sealed chunk
    is held beside the output buffer.

    Raises:
        IntegrityError: a chunk is missing, duplicated, out of order, moved, altered, or sealed by an
            unknown key.
    """
    reader = ChunkReader(GRAPH, keyset, vault_id, collection)
    out = bytearray()
    for chunk in chunks:
        out += reader.open(chunk)
    reader.finish()
    return reader.rev, out
