"""Encrypted, authenticated export bundles: ``vecvault export`` and ``vecvault import``.

A bundle holds every collection's configuration and every record opened (text, metadata, vector), sealed
again as one chunked AES-256-GCM stream under a key that belongs to the bundle alone. It does not depend
on the vault's internals (vault id, data keys, schema version), so it imports into a new vault with fresh
data keys under the same master key, a new one, or any key provider. Shredded collections are not in it.

Format v1::

    "VVBUNDLE" ‖ header_len (uint32 BE) ‖ header (canonical JSON) ‖ SHA-256(header)
    then chunks, each: ciphertext_len (uint32 BE) ‖ AES-256-GCM ciphertext with its 16-byte tag

The header carries the format version, a random 32-byte salt, how the bundle secret is obtained
(``"master"``: a 32-byte master key from a key provider; ``"argon2id"``: a passphrase, with its cost
parameters), the chunk size, and a 16-byte key check. From the secret: ``K = HKDF-SHA256(secret,
salt, "vecvault/v1/bundle-stream")`` and ``check = HKDF(secret, salt, "vecvault/v1/bundle-check")[:16]``.
Chunk ``i`` is sealed with nonce ``i (8 bytes BE) ‖ final (1 byte) ‖ 0x000000`` (unique: the key is
fresh per bundle) and AAD ``"vecvault/bundle/v1" ‖ SHA-256(header) ‖ i ‖ final``. So a changed header,
a flipped bit, reordered, dropped or duplicated chunks, a truncation at a chunk boundary (the last chunk
then lacks the final flag) and appended data are all detected: :class:`IntegrityError`. A wrong key or
passphrase fails the key check: :class:`WrongKeyError`.

The plaintext stream is a sequence of frames ``kind (1 byte) ‖ length (uint32 BE) ‖ payload``: ``C``
(a collection's configuration, JSON), ``R`` (a record: id, text, metadata JSON, float32 vector) and one
final ``E`` (counts, JSON). Format v2 adds, after the collections, ``N`` (a key-value namespace: name and
entry count, JSON) and ``V`` (an entry: key, value) frames, and namespace and entry counts in ``E``; a
vault without key-value namespaces still exports format v1, and both import. Import reads the whole bundle
once to authenticate it before it writes anything, then writes a new vault under a temporary name and moves
it into place only when complete: a refused bundle imports nothing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import struct
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vecvault import file_layer
from vecvault.errors import (
    ConfigurationError,
    IntegrityError,
    KeyNotFoundError,
    StorageError,
    VecVaultError,
    WrongKeyError,
)
from vecvault.keys.base import KeyProvider
from vecvault.keys.passphrase_provider import (
    DEFAULT_ARGON2_PARAMS,
    MAXIMUM_ARGON2_PARAMS,
    MINIMUM_ARGON2_PARAMS,
    Argon2Params,
)
from vecvault.progress import ProgressCallback, call_progress
from vecvault.records import CollectionInfo

if TYPE_CHECKING:
    from vecvault.vault import Vault

__all__ = ["BUNDLE_MAGIC", "BUNDLE_VERSION", "BundleReport", "export_vault", "import_bundle", "read_bundle_header"]

BUNDLE_MAGIC = b"VVBUNDLE"
BUNDLE_VERSION = 2
_READABLE_VERSIONS = (1, 2)
DEFAULT_CHUNK_SIZE = 64 * 1024
_MAX_CHUNK_SIZE = 16 * 1024 * 1024
_MAX_HEADER = 64 * 1024
_TAG = 16
_SALT = 32
_U32 = struct.Struct(">I")
_AAD_TAG = b"vecvault/bundle/v1"
_READ_BATCH = 1000


@dataclass(frozen=True)
class BundleReport:
    """What an export wrote or an import restored (counts only)."""

    collections: int
    records: int
    bytes: int
    namespaces: int = 0
    entries: int = 0


# -- keys ------------------------------------------------------------------------------------------------


def _hkdf(secret: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def _argon2(passphrase: str, salt: bytes, params: Argon2Params) -> bytes:
    if not passphrase:
        raise ConfigurationError("The bundle passphrase is empty; choose a long passphrase.")
    kdf = Argon2id(
        salt=salt, length=32, iterations=params.iterations, lanes=params.lanes, memory_cost=params.memory_cost
    )
    return kdf.derive(unicodedata.normalize("NFC", passphrase).encode())


def _as_master(key: KeyProvider | bytes) -> bytes:
    if isinstance(key, (bytes, bytearray)):
        if len(key) != 32:
            raise ConfigurationError("A bundle key given as bytes must be exactly 32 bytes.")
        return bytes(key)
    if not isinstance(key, KeyProvider):
        raise ConfigurationError(f"key must be a KeyProvider or 32 bytes, not {type(key).__name__}.")
    try:
        return key.load_key()
    except KeyNotFoundError as exc:
        raise KeyNotFoundError(
            f"The bundle is sealed under a master key, but {key.description} holds none. Pass the provider "
            "that holds the exporting vault's key (bundle_key=..., or --bundle-key-* on the command line)."
        ) from exc


@dataclass(frozen=True)
class _Header:
    raw: bytes
    digest: bytes
    doc: dict[str, Any]


def _params_of(doc: dict[str, Any]) -> Argon2Params:
    try:
        params = Argon2Params(int(doc["memory_cost"]), int(doc["iterations"]), int(doc["lanes"]))
    except (KeyError, TypeError, ValueError):
        raise IntegrityError("The bundle header's Argon2id parameters are malformed.") from None
    top = MAXIMUM_ARGON2_PARAMS
    if (
        not params.at_least(MINIMUM_ARGON2_PARAMS)
        or params.memory_cost > top.memory_cost
        or params.iterations > top.iterations
        or not 1 <= params.lanes <= top.lanes
    ):
        raise IntegrityError("The bundle header asks for Argon2id parameters outside vecvault's limits.")
    return params


def _secret_for(header: _Header, key: KeyProvider | bytes | None, passphrase: str | None) -> bytes:
    kdf = header.doc.get("kdf")
    if not isinstance(kdf, dict):
        raise IntegrityError("The bundle header has no kdf section.")
    salt = _b64(header.doc, "salt", _SALT)
    if kdf.get("kind") == "argon2id":
        if passphrase is None:
            raise ConfigurationError(
                "This bundle is sealed under a passphrase; pass passphrase=... (--bundle-passphrase)."
            )
        return _argon2(passphrase, salt, _params_of(kdf))
    if kdf.get("kind") == "master":
        if key is None:
            raise ConfigurationError("This bundle is sealed under a master key; pass the key provider that holds it.")
        return _as_master(key)
    raise IntegrityError("The bundle header names an unknown key derivation.")


def _b64(doc: dict[str, Any], name: str, length: int) -> bytes:
    value = doc.get(name)
    try:
        raw = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise IntegrityError(f"The bundle header field {name!r} is malformed.") from None
    if len(raw) != length:
        raise IntegrityError(f"The bundle header field {name!r} has the wrong length.")
    return raw


class _Keys:
    def __init__(self, secret: bytes, salt: bytes) -> None:
        self.aead = AESGCM(_hkdf(secret, salt, b"vecvault/v1/bundle-stream"))
        self.check = _hkdf(secret, salt, b"vecvault/v1/bundle-check", 16)


def _nonce(index: int, final: bool) -> bytes:
    return struct.pack(">QB", index, int(final)) + b"\x00\x00\x00"


def _aad(digest: bytes, index: int, final: bool) -> bytes:
    return _AAD_TAG + digest + struct.pack(">QB", index, int(final))


# -- writing ---------------------------------------------------------------------------------------------


class _ChunkWriter:
    def __init__(self, out: IO[bytes], keys: _Keys, digest: bytes, chunk_size: int) -> None:
        self._out = out
        self._keys = keys
        self._digest = digest
        self._size = chunk_size
        self._buffer = bytearray()
        self._index = 0
        self.written = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > self._size:  # keep at least one byte back: the last chunk is final
            self._emit(bytes(self._buffer[: self._size]), final=False)
            del self._buffer[: self._size]

    def close(self) -> None:
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()

    def _emit(self, plain: bytes, *, final: bool) -> None:
        sealed = self._keys.aead.encrypt(_nonce(self._index, final), plain, _aad(self._digest, self._index, final))
        self._out.write(_U32.pack(len(sealed)) + sealed)
        self.written += 4 + len(sealed)
        self._index += 1


def _frame(kind: bytes, payload: bytes) -> bytes:
    return kind + _U32.pack(len(payload)) + payload


def _record_payload(record_id: str, text: str, metadata: dict[str, Any], vector: Any) -> bytes:
    rid, body = record_id.encode(), text.encode()
    meta = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    vec = np.asarray(vector, dtype="<f4").tobytes()
    return _U32.pack(len(rid)) + rid + _U32.pack(len(body)) + body + _U32.pack(len(meta)) + meta + vec


def export_vault(
    vault: Vault,
    bundle: str | os.PathLike[str],
    *,
    key: KeyProvider | bytes | None = None,
    passphrase: str | None = None,
    progress: ProgressCallback | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    argon2_params: Argon2Params = DEFAULT_ARGON2_PARAMS,
) -> BundleReport:
    """Write every collection and record, and every key-value namespace and entry, of ``vault`` to a new bundle.

    Args:
        vault: an open vault.
        bundle: the bundle path; an existing file is never overwritten.
        key: seal the bundle under this master key (a provider or 32 bytes). Default: the vault's own key
            provider, so the bundle imports wherever that key is available.
        passphrase: seal the bundle under a passphrase instead (Argon2id), e.g. to move it to a machine
            that has none of your keys.
        progress: ``progress(done, total)`` in records.
        chunk_size: plaintext bytes per sealed chunk.
        argon2_params: Argon2id cost when sealing under a passphrase.

    Raises:
        ConfigurationError: the bundle exists, or both ``key`` and ``passphrase`` were given.
        IntegrityError: a record of the vault does not open (run ``vecvault verify``); the partial bundle
            is removed.
    """
    if key is not None and passphrase is not None:
        raise ConfigurationError("Give either key or passphrase for the bundle, not both.")
    if not isinstance(chunk_size, int) or not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
        raise ConfigurationError(f"chunk_size must be between 1 and {_MAX_CHUNK_SIZE} bytes.")
    salt = secrets.token_bytes(_SALT)
    if passphrase is not None:
        kdf: dict[str, Any] = {
            "kind": "argon2id",
            "memory_cost": argon2_params.memory_cost,
            "iterations": argon2_params.iterations,
            "lanes": argon2_params.lanes,
        }
        _params_of(kdf)
        secret = _argon2(passphrase, salt, argon2_params)
    else:
        kdf = {"kind": "master"}
        secret = _as_master(vault.core.key_provider if key is None else key)
    keys = _Keys(secret, salt)
    del secret
    with vault.core.lock:
        vault.core.check_open()
        has_kv = bool(vault.core.storage.kv_namespaces())
    doc = {
        "format": "vecvault-bundle",
        "version": BUNDLE_VERSION if has_kv else 1,  # v1 readers can import a bundle without namespaces
        "created": int(time.time()),
        "salt": base64.b64encode(salt).decode(),
        "kdf": kdf,
        "chunk_size": chunk_size,
        "key_check": base64.b64encode(keys.check).decode(),
    }
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(raw).digest()
    path = Path(bundle)
    try:
        out = path.open("xb")
    except FileExistsError:
        raise ConfigurationError(f"{path} exists; vecvault never overwrites a bundle. Choose another path.") from None
    try:
        with out:
            out.write(BUNDLE_MAGIC + _U32.pack(len(raw)) + raw + digest)
            writer = _ChunkWriter(out, keys, digest, chunk_size)
            collections, records, namespaces, entries = _write_records(vault, writer, progress)
            writer.close()
            out.flush()
            os.fsync(out.fileno())
        size = path.stat().st_size
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return BundleReport(collections, records, size, namespaces, entries)


def _entry_payload(key: str, value: bytes) -> bytes:
    raw = key.encode()
    return _U32.pack(len(raw)) + raw + value


def _write_records(vault: Vault, writer: _ChunkWriter, progress: ProgressCallback | None) -> tuple[int, int, int, int]:
    core = vault.core
    with core.lock:
        core.check_open()
        storage = core.storage
        with storage.snapshot():  # one consistent state, even with writers in other processes
            configs = storage.collections()
            total = sum(storage.count(c.name) for c in configs)
            done = 0
            call_progress(progress, 0, total)
            for config in configs:
                col = vault.collection(config.name, metric=config.metric, vectors=config.vectors, create=False)
                ids = storage.all_ids(config.name)
                info = {
                    "name": config.name,
                    "dim": config.dim,
                    "metric": config.metric,
                    "vectors": config.vectors,
                    "model": config.model,
                    "count": len(ids),
                }
                writer.write(_frame(b"C", json.dumps(info, separators=(",", ":")).encode()))
                for start in range(0, len(ids), _READ_BATCH):
                    batch = col.get(ids[start : start + _READ_BATCH], include_vectors=True)
                    for record in batch:
                        writer.write(
                            _frame(b"R", _record_payload(record.id, record.text, record.metadata, record.vector))
                        )
                    done += len(batch)
                    call_progress(progress, done, max(total, done))
            namespaces = storage.kv_namespaces()
            entries = 0
            for name, _ in namespaces:
                store = vault.kv(name)
                pairs = list(store.items())  # inside the snapshot: the count below is the one exported
                writer.write(_frame(b"N", json.dumps({"name": name, "count": len(pairs)}).encode()))
                for key, value in pairs:
                    writer.write(_frame(b"V", _entry_payload(key, value)))
                entries += len(pairs)
            end: dict[str, int] = {"collections": len(configs), "records": done}
            if namespaces:
                end |= {"namespaces": len(namespaces), "entries": entries}
            writer.write(_frame(b"E", json.dumps(end, separators=(",", ":")).encode()))
            return len(configs), done, len(namespaces), entries


# -- reading ---------------------------------------------------------------------------------------------


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise IntegrityError("The bundle is truncated.")
    return data


def _read_header(stream: IO[bytes]) -> _Header:
    magic = stream.read(len(BUNDLE_MAGIC))
    if magic != BUNDLE_MAGIC:
        raise IntegrityError("This file is not a vecvault bundle (bad magic), or its start was damaged.")
    (length,) = _U32.unpack(_read_exact(stream, 4))
    if not 0 < length <= _MAX_HEADER:
        raise IntegrityError("The bundle header has an impossible length; the file is damaged.")
    raw = _read_exact(stream, length)
    digest = _read_exact(stream, 32)
    if not hmac.compare_digest(hashlib.sha256(raw).digest(), digest):
        raise IntegrityError("The bundle header was altered or damaged.")
    try:
        doc = json.loads(raw)
    except ValueError:
        raise IntegrityError("The bundle header is not valid JSON.") from None
    if not isinstance(doc, dict) or doc.get("format") != "vecvault-bundle":
        raise IntegrityError("The bundle header is not a vecvault bundle header.")
    if doc.get("version") not in _READABLE_VERSIONS:
        raise ConfigurationError(
            f"This bundle has format version {doc.get('version')!r}; this vecvault reads version {BUNDLE_VERSION}. "
            "Upgrade vecvault: pip install -U vecvault"
        )
    return _Header(raw, digest, doc)


def read_bundle_header(bundle: str | os.PathLike[str]) -> dict[str, Any]:
    """Return a bundle's (unencrypted, checksummed) header: version, creation time, key derivation."""
    with Path(bundle).open("rb") as stream:
        doc = dict(_read_header(stream).doc)
    doc.pop("key_check", None)
    return doc


def _chunks(stream: IO[bytes], header: _Header, keys: _Keys) -> Iterator[bytes]:
    try:
        chunk_size = int(header.doc["chunk_size"])
    except (KeyError, TypeError, ValueError):
        raise IntegrityError("The bundle header has no valid chunk size.") from None
    if not 1 <= chunk_size <= _MAX_CHUNK_SIZE:
        raise IntegrityError("The bundle header has an impossible chunk size.")
    index = 0
    pending = stream.read(4)
    while True:
        if len(pending) != 4:
            raise IntegrityError("The bundle is truncated: its final chunk is missing.")
        (length,) = _U32.unpack(pending)
        if not _TAG <= length <= chunk_size + _TAG:
            raise IntegrityError("A bundle chunk has an impossible length; the bundle is damaged.")
        sealed = _read_exact(stream, length)
        pending = stream.read(4)
        final = pending == b""
        try:
            yield keys.aead.decrypt(_nonce(index, final), sealed, _aad(header.digest, index, final))
        except InvalidTag:
            raise IntegrityError(
                f"Bundle chunk {index} failed authentication: the bundle was altered, truncated or reordered."
            ) from None
        if final:
            return
        index += 1


class _FrameReader:
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._eof = False

    def _fill(self, n: int) -> bool:
        while len(self._buffer) < n and not self._eof:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                self._eof = True
        return len(self._buffer) >= n

    def take(self, n: int) -> bytes:
        if not self._fill(n):
            raise IntegrityError("The bundle's content ends in the middle of a record; it is damaged.")
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def frames(self) -> Iterator[tuple[bytes, bytes]]:
        while True:
            if not self._fill(1):
                raise IntegrityError("The bundle's content has no end marker; it is damaged.")
            kind = self.take(1)
            (length,) = _U32.unpack(self.take(4))
            yield kind, self.take(length)
            if kind == b"E":
                if self._fill(1):
                    raise IntegrityError("The bundle has content after its end marker; it is damaged.")
                return


def _parse_collection(payload: bytes) -> CollectionInfo:
    try:
        doc = json.loads(payload)
        return CollectionInfo(
            str(doc["name"]),
            int(doc["dim"]),
            str(doc["metric"]),
            str(doc["vectors"]),
            None if doc.get("model") is None else str(doc["model"]),
            int(doc["count"]),
        )
    except (ValueError, KeyError, TypeError):
        raise IntegrityError("A collection entry of the bundle is malformed.") from None


def _parse_record(payload: bytes, dim: int) -> tuple[str, str, dict[str, Any], Any]:
    try:
        pos = 0
        parts = []
        for _ in range(3):
            (n,) = _U32.unpack_from(payload, pos)
            pos += 4
            if pos + n > len(payload):
                raise ValueError("short")
            parts.append(payload[pos : pos + n])
            pos += n
        vector = np.frombuffer(payload[pos:], dtype="<f4")
        if vector.shape[0] != dim:
            raise ValueError("dim")
        metadata = json.loads(parts[2])
        if not isinstance(metadata, dict):
            raise ValueError("metadata")
        return parts[0].decode(), parts[1].decode(), metadata, vector.astype(np.float32)
    except (ValueError, struct.error, UnicodeDecodeError):
        raise IntegrityError("A record entry of the bundle is malformed.") from None


def _parse_namespace(payload: bytes) -> tuple[str, int]:
    try:
        doc = json.loads(payload)
        name, count = doc["name"], int(doc["count"])
    except (ValueError, KeyError, TypeError):
        raise IntegrityError("A key-value namespace entry of the bundle is malformed.") from None
    if not isinstance(name, str) or not name or count < 0:
        raise IntegrityError("A key-value namespace entry of the bundle is malformed.")
    return name, count


def _parse_entry(payload: bytes) -> tuple[str, bytes]:
    try:
        (n,) = _U32.unpack_from(payload, 0)
        if 4 + n > len(payload):
            raise ValueError("short")
        return payload[4 : 4 + n].decode(), payload[4 + n :]
    except (ValueError, struct.error, UnicodeDecodeError):
        raise IntegrityError("A key-value entry of the bundle is malformed.") from None


Item = tuple[CollectionInfo, list[tuple[str, str, dict[str, Any], Any]]]

KvItem = tuple[str, list[tuple[str, bytes]]]


def _items(stream: IO[bytes], header: _Header, keys: _Keys, batch: int) -> Iterator[Item | KvItem]:
    """Yield (collection, records batch) or (namespace, entries batch) in bundle order; an empty batch announces one."""
    reader = _FrameReader(_chunks(stream, header, keys))
    current: CollectionInfo | None = None
    seen_records = 0
    in_collection = 0
    collections = 0
    pending: list[tuple[str, str, dict[str, Any], Any]] = []
    namespace: tuple[str, int] | None = None
    namespaces = 0
    seen_entries = 0
    in_namespace = 0
    entries: list[tuple[str, bytes]] = []
    for kind, payload in reader.frames():
        if kind in (b"C", b"E", b"N") and current is not None:
            if pending:
                yield current, pending
                pending = []
            if in_collection != current.count:
                raise IntegrityError(f"The bundle's collection {current.name!r} is incomplete.")
            if kind != b"C":
                current = None
        if kind in (b"C", b"E", b"N") and namespace is not None:
            if entries:
                yield namespace[0], entries
                entries = []
            if in_namespace != namespace[1]:
                raise IntegrityError(f"The bundle's key-value namespace {namespace[0]!r} is incomplete.")
            namespace = None
        if kind == b"N":
            if header.doc.get("version") == 1:
                raise IntegrityError("The bundle holds an entry of an unknown kind; it is damaged.")
            namespace = _parse_namespace(payload)
            namespaces += 1
            in_namespace = 0
            yield namespace[0], []
        elif kind == b"V":
            if namespace is None:
                raise IntegrityError("The bundle has a key-value entry before any namespace; it is damaged.")
            entries.append(_parse_entry(payload))
            in_namespace += 1
            seen_entries += 1
            if len(entries) >= batch:
                yield namespace[0], entries
                entries = []
        elif kind == b"C":
            current = _parse_collection(payload)
            collections += 1
            in_collection = 0
            yield current, []
        elif kind == b"R":
            if current is None or namespace is not None:
                raise IntegrityError("The bundle has a record before any collection; it is damaged.")
            pending.append(_parse_record(payload, current.dim))
            in_collection += 1
            seen_records += 1
            if len(pending) >= batch:
                yield current, pending
                pending = []
        elif kind == b"E":
            try:
                end = json.loads(payload)
                expected = (
                    int(end["collections"]),
                    int(end["records"]),
                    int(end.get("namespaces", 0)),
                    int(end.get("entries", 0)),
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                raise IntegrityError("The bundle's end marker is malformed.") from None
            if expected != (collections, seen_records, namespaces, seen_entries):
                raise IntegrityError("The bundle's counts do not match its content; it is damaged.")
        else:
            raise IntegrityError("The bundle holds an entry of an unknown kind; it is damaged.")


def _open_bundle(
    path: Path, key: KeyProvider | bytes | None, passphrase: str | None
) -> tuple[IO[bytes], _Header, _Keys]:
    stream = path.open("rb")
    try:
        header = _read_header(stream)
        keys = _Keys(_secret_for(header, key, passphrase), _b64(header.doc, "salt", _SALT))
        if not hmac.compare_digest(keys.check, _b64(header.doc, "key_check", 16)):
            raise WrongKeyError(
                "This key or passphrase does not open the bundle. Use the key (or passphrase) it was exported "
                "with: by default the exporting vault's master key."
            )
    except BaseException:
        stream.close()
        raise
    return stream, header, keys


def import_bundle(
    bundle: str | os.PathLike[str],
    location: str | os.PathLike[str],
    *,
    key: KeyProvider | bytes | None = None,
    bundle_key: KeyProvider | bytes | None = None,
    passphrase: str | None = None,
    file_encryption: bool | None = None,
    progress: ProgressCallback | None = None,
    batch_size: int = _READ_BATCH,
) -> BundleReport:
    """Restore a bundle into a new vault file; nothing is written unless the whole bundle authenticates.

    Args:
        bundle: the bundle file.
        location: the new vault's path; it must not exist.
        key: the new vault's key provider (default: ``VECVAULT_KEY`` or the OS keychain). Its key is
            created if the provider holds none.
        bundle_key: the master key the bundle was sealed under, if not the new vault's own key.
        passphrase: the bundle passphrase, for bundles sealed under one.
        file_encryption: as in :meth:`Vault.open` (default on).
        progress: ``progress(done, total)`` in records (while writing the new vault).
        batch_size: records per write transaction.

    Raises:
        IntegrityError: the bundle was altered, truncated or reordered; nothing was imported.
        WrongKeyError: the key or passphrase does not open the bundle.
        ConfigurationError: ``location`` exists, and is not the vault an earlier, interrupted import of this
            same bundle published (that one is reported as done: rerunning an import finishes it).
    """
    from vecvault.engine import as_key_provider
    from vecvault.vault import Vault

    path = Path(bundle)
    target = file_layer.local_path(os.fspath(location))
    provider = as_key_provider(key)
    source: KeyProvider | bytes = provider if bundle_key is None else bundle_key
    # Pass 1: authenticate everything before anything is written.
    stream, header, keys = _open_bundle(path, source if passphrase is None else None, passphrase)
    with stream:
        total = 0
        for _, batch in _items(stream, header, keys, batch_size):
            total += len(batch)
    _finish_interrupted_publish(target)
    if os.path.exists(target):
        done_before = _imported_here(target, provider, header.digest)
        if done_before is None:
            raise ConfigurationError(f"{target} exists; import writes a new vault. Choose another path.")
        return BundleReport(done_before[0], done_before[1], path.stat().st_size, done_before[2], done_before[3])
    file_layer.check_no_orphan_sidecars(target)
    _remove_stale_staging(target)
    tmp = f"{target}{_STAGING}{secrets.token_hex(4)}"
    done = 0
    collections = 0
    namespaces = 0
    entries = 0
    try:
        with Vault.open(tmp, key=provider, file_encryption=file_encryption) as vault:
            stream, header, keys = _open_bundle(path, source if passphrase is None else None, passphrase)
            with stream:
                call_progress(progress, 0, total)
                for info, batch in _items(stream, header, keys, batch_size):
                    if isinstance(info, str):
                        store = vault.kv(info)
                        if not batch:
                            namespaces += 1
                            with store.atomic():
                                pass  # creates the namespace, even an empty one
                            continue
                        store.set(batch)  # type: ignore[arg-type]
                        entries += len(batch)
                        done += len(batch)
                        call_progress(progress, done, total)
                        continue
                    records: list[tuple[str, str, dict[str, Any], Any]] = batch  # type: ignore[assignment]
                    col = vault.collection(info.name, info.dim, info.metric, vectors=info.vectors, model=info.model)
                    if not records:
                        collections += 1
                        continue
                    col.add(
                        texts=[r[1] for r in records],
                        vectors=np.stack([r[3] for r in records]),
                        metadatas=[r[2] for r in records],
                        ids=[r[0] for r in records],
                    )
                    done += len(records)
                    call_progress(progress, done, total)
            with vault.core.lock:
                vault.core.storage.set_meta(_IMPORTED_FROM, header.digest)
        _remove_sidecars(tmp)
        os.link(tmp, target)  # fails rather than replace a file that appeared meanwhile
        os.unlink(tmp)
    except BaseException:
        for name in (tmp, f"{tmp}-wal", f"{tmp}-shm", f"{tmp}-journal"):
            with contextlib.suppress(OSError):
                os.unlink(name)
        raise
    return BundleReport(collections, done - entries, path.stat().st_size, namespaces, entries)


_STAGING = ".importing-"
_STAGING_NAME = re.compile(r"\.importing-[0-9a-f]{8}(-wal|-shm|-journal)?")


def _staging_entries(target: str) -> list[tuple[str, str]]:
    """``(path, suffix)`` of every staging file an import into ``target`` may have left."""
    folder, name = os.path.split(os.path.abspath(target))
    found = []
    for entry in os.listdir(folder):
        match = _STAGING_NAME.fullmatch(entry[len(name) :]) if entry.startswith(name) else None
        if match is not None:
            found.append((os.path.join(folder, entry), match.group(1) or ""))
    return found


_IMPORTED_FROM = "imported_bundle"  # vv_meta: the header digest of the bundle a vault was imported from


def _imported_here(target: str, key: KeyProvider, digest: bytes) -> tuple[int, int, int, int] | None:
    """``(collections, records, namespaces, entries)`` if ``target`` is what an earlier import of this bundle made."""
    from vecvault.vault import Vault

    try:
        vault = Vault.open(target, key=key, create=False)
    except VecVaultError:
        return None  # not a vault this key opens: certainly not that import's result
    with vault:
        with vault.core.lock:
            marker = vault.core.storage.get_meta(_IMPORTED_FROM)
        if marker is None or not hmac.compare_digest(marker, digest):
            return None
        infos = vault.collection_info()
        spaces = vault.kv_info()
    return len(infos), sum(i.count for i in infos), len(spaces), sum(n.count for n in spaces)


def _finish_interrupted_publish(target: str) -> bool:
    """Whether an import into ``target`` was killed after publishing it (the staging name is a second link)."""
    if not os.path.exists(target):
        return False
    for staged, suffix in _staging_entries(target):
        if not suffix and os.path.samefile(staged, target):
            os.unlink(staged)
            return True
    return False


def _remove_stale_staging(target: str) -> None:
    """Delete what an import into ``target`` that was killed left behind (its staging vault and sidecars).

    They hold only sealed copies of the bundle's records; the import that wrote them never reached the
    target, so rerunning it starts afresh.
    """
    for staged, _ in _staging_entries(target):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)


def _remove_sidecars(location: str) -> None:
    """Remove the closed vault's empty WAL and its shared-memory file, so the main file moves alone."""
    wal = location + "-wal"
    if os.path.exists(wal):
        if os.path.getsize(wal):
            raise StorageError(f"{location} kept a non-empty WAL after closing; the import was not completed.")
        os.unlink(wal)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(location + "-shm")
