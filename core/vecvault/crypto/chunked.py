"""Sealed persistence of a collection's HNSW graph, so a reopen loads it instead of rebuilding it.

The graph holds the collection's vectors, so it is sealed like them: AES-256-GCM under a subkey
(``"ann-graph"``) of the collection's primary data key, cut into chunks of :data:`CHUNK_BYTES`. Each
chunk is ``key_id (4, big-endian) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`` and its AAD binds the format,
the vault id, the collection, the collection revision the graph reflects, the chunk's index and the
chunk count, so a chunk cannot be moved to another vault, collection, revision or position, and a
dropped or added chunk is detected. Every failure is an :class:`~vecvault.errors.IntegrityError`; the
caller then rebuilds the graph from the records, never trusting the stored one.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from vecvault.crypto.aead import NONCE_BYTES, TAG_BYTES, Aead, _length_prefixed
from vecvault.crypto.kdf import derive_subkey
from vecvault.crypto.keyset import DataKey, Keyset, KeyState
from vecvault.errors import IntegrityError

__all__ = ["CHUNK_BYTES", "SealedChunk", "chunk_count", "open_graph", "seal_graph"]

CHUNK_BYTES = 4 * 2**20
_AAD_TAG = b"vecvault/ann-graph/v1"
_PURPOSE = "ann-graph"
_KEY_ID = struct.Struct(">I")


@dataclass(frozen=True)
class SealedChunk:
    """One stored chunk of a sealed graph."""

    index: int
    count: int
    rev: int
    key_id: int
    blob: bytes


def _aad(vault_id: bytes, collection: str, rev: int, index: int, count: int, key_id: int) -> bytes:
    parts = (
        _AAD_TAG,
        vault_id,
        collection.encode(),
        struct.pack(">QII", rev, index, count),
        _KEY_ID.pack(key_id),
    )
    return _length_prefixed(parts)  # the encoding of every vecvault AAD (vecvault.crypto.aead)


def _aead(key: DataKey) -> Aead:
    if key.material is None or key.state is KeyState.DESTROYED:
        raise IntegrityError(f"Data key {key.key_id} was destroyed; the stored graph cannot be opened.")
    if key.state is KeyState.DISABLED:
        raise IntegrityError(f"Data key {key.key_id} is disabled; the stored graph cannot be opened while it is.")
    return Aead(derive_subkey(key.material, _PURPOSE))


def chunk_count(size: int) -> int:
    """How many chunks a graph of ``size`` bytes is sealed into."""
    return max(1, -(-size // CHUNK_BYTES))


def seal_graph(key: DataKey, vault_id: bytes, collection: str, rev: int, data: bytes) -> Iterator[SealedChunk]:
    """Seal graph bytes chunk by chunk under ``key`` (the collection's primary data key).

    A generator: the caller stores each chunk before the next is sealed, so sealing holds one chunk of
    ciphertext at a time beside the plaintext.
    """
    aead = _aead(key)
    count = chunk_count(len(data))
    view = memoryview(data)
    for index in range(count):
        nonce = os.urandom(NONCE_BYTES)
        part = view[index * CHUNK_BYTES : (index + 1) * CHUNK_BYTES]
        sealed = aead.encrypt_unchecked(nonce, part, _aad(vault_id, collection, rev, index, count, key.key_id))
        key.encryptions += 1
        yield SealedChunk(index, count, rev, key.key_id, _KEY_ID.pack(key.key_id) + nonce + sealed)


def open_graph(
    keyset: Keyset, vault_id: bytes, collection: str, chunks: Iterable[SealedChunk]
) -> tuple[int, bytearray]:
    """Authenticate stored chunks, in index order, into one buffer; return ``(rev, graph bytes)``.

    ``chunks`` may be a generator reading one chunk at a time from the database: only one sealed chunk
    is held beside the output buffer.

    Raises:
        IntegrityError: a chunk is missing, duplicated, out of order, moved, altered, or sealed by an
            unknown key.
    """
    out = bytearray()
    count = rev = -1
    expected = 0
    aeads: dict[int, Aead] = {}
    for chunk in chunks:
        if expected == 0:
            count, rev = chunk.count, chunk.rev
            if count < 1:
                raise IntegrityError("The stored graph has a bad chunk count.")
        if chunk.index != expected or expected >= count:
            raise IntegrityError("The stored graph has missing, extra or reordered chunks.")
        blob = chunk.blob
        if not isinstance(blob, bytes) or len(blob) < _KEY_ID.size + NONCE_BYTES + TAG_BYTES:
            raise IntegrityError("A stored graph chunk is truncated.")
        (key_id,) = _KEY_ID.unpack_from(blob)
        if key_id not in aeads:
            key = keyset.get(key_id)
            if key is None and keyset.on_unknown_key is not None:
                keyset.on_unknown_key(key_id)  # another connection may have just rotated and saved a graph
                key = keyset.get(key_id)
            if key is None or key.scope != collection:
                raise IntegrityError("A stored graph chunk names a data key this collection does not have.")
            aeads[key_id] = _aead(key)
        nonce = blob[_KEY_ID.size : _KEY_ID.size + NONCE_BYTES]
        try:
            aad = _aad(vault_id, collection, rev, chunk.index, count, key_id)
            out += aeads[key_id].decrypt_unchecked(nonce, blob[_KEY_ID.size + NONCE_BYTES :], aad)
        except (InvalidTag, ValueError):
            raise IntegrityError("A stored graph chunk failed authentication: altered, moved or stale.") from None
        expected += 1
    if expected == 0:
        raise IntegrityError("No stored graph.")
    if expected != count:
        raise IntegrityError("The stored graph has missing chunks.")
    return rev, out
