"""Vault and Collection: the public API that ties keys, sealing, storage and search together.

A :class:`Vault` is one libSQL database (a local file, or a libSQL server) holding many collections. A
:class:`Collection` has a fixed dimension and metric; its records are sealed field by field before they
are written, and its vectors are opened into an in-memory exact index the first time it is searched.
Every read first checks the collection's revision, so writes by other connections or processes are seen
by the next query without reloading everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vecvault import crypto, file_layer
from vecvault.ann import HnswIndex
from vecvault.crypto import DataKey, Keyset, KeyState
from vecvault.errors import ConfigurationError, IntegrityError, KeyNotFoundError, StorageError
from vecvault.filters import Filter, MetadataTable, parse_filter
from vecvault.index import VectorIndex, exact_scores, maximal_marginal_relevance, normalize_metric, relevance
from vecvault.keys.base import KeyProvider, VaultRegistry
from vecvault.records import (
    CollectionInfo,
    Hit,
    Record,
    RecordSealer,
    check_ids,
    check_metadatas,
    check_query,
    check_vectors,
    decode_vector,
    encode_metadata,
    encode_vector,
    new_ids,
)
from vecvault.storage import RESTORE_HINT, CollectionRow, KeyRow, Storage, Tracer, is_remote_url

if TYPE_CHECKING:
    from vecvault.lifecycle import KeyInfo, RotationReport, VerifyReport
    from vecvault.progress import ProgressCallback

__all__ = ["DEFAULT_K", "Collection", "CollectionInfo", "Vault"]

DEFAULT_K = 4
DEFAULT_FETCH_K = 20
VECTOR_MODES = ("sealed", "plain")
INDEX_MODES = ("exact", "hnsw", "auto")
# index="auto" builds an HNSW graph from this many records (see benchmarks/RESULTS.md, phase 3).
AUTO_HNSW_MIN = 100_000
_ANN_SAVE_MIN = 1_000
_VAULT_ID_BYTES = 16
# Past this many logged deletions, the log is dropped and other readers reload the collection instead.
_DELETION_LOG_LIMIT = 10_000


def _as_key_provider(key: KeyProvider | bytes | None) -> KeyProvider:
    if key is None:
        from vecvault.keys import default_key_provider

        return default_key_provider()
    if isinstance(key, (bytes, bytearray)):
        from vecvault.keys import StaticKeyProvider

        return StaticKeyProvider(bytes(key))
    if not isinstance(key, KeyProvider):
        raise ConfigurationError(
            f"key must be a KeyProvider (e.g. KeyringKeyProvider(), EnvKeyProvider()) or 32 bytes, "
            f"not {type(key).__name__}."
        )
    return key


class Vault:
    """An encrypted vector store in one libSQL database.

    Open it with :meth:`Vault.open`; use it as a context manager so it checkpoints and closes:

    ```python
    from vecvault import Vault

    with Vault.open("memories.db") as vault:  # the key: VECVAULT_KEY, else the OS keychain
        notes = vault.collection("notes", dim=3)
        notes.add(texts=["hello"], vectors=[[0.1, 0.2, 0.3]])
    ```

    A Vault is safe to share between threads; each call holds the vault's lock.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        vault_id: bytes,
        keyset: Keyset,
        kek: bytes,
        key_provider: KeyProvider,
    ) -> None:
        self._storage = storage
        self._vault_id = vault_id
        self._keyset = keyset
        self._kek = kek
        self._key_provider = key_provider
        self._lock = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self._closed = False
        keyset.on_unknown_key = lambda _key_id: self._reload_keys_if_changed()

    # -- opening -----------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        location: str | os.PathLike[str],
        *,
        key: KeyProvider | bytes | None = None,
        file_encryption: bool | None = None,
        create: bool = True,
        driver: str = "libsql",
        auth_token: str | None = None,
        sync_url: str | None = None,
        tracer: Tracer | None = None,
    ) -> Vault:
        """Open a vault, creating it if the file does not exist yet.

        A local vault this process cannot write opens read-only: a read-only file, a read-only file
        system, or a directory where SQLite cannot create the ``-wal`` and ``-shm`` files it needs.
        Counts, ``get``, ``search``, ``info``, ``verify`` and ``export`` work; every write raises a
        :class:`StorageError` that says the vault is read-only and what to do (make it writable, or copy
        it somewhere writable), and :attr:`read_only` is True. Where the directory is writable, or the
        ``-wal`` and ``-shm`` files exist, the read-only connection shares the WAL with writers elsewhere
        and sees their commits. In a read-only directory without them it opens the file as immutable:
        a change made meanwhile through another path (another mount of the same directory) is not seen.
        A crashed writer's ``-wal`` left in a read-only directory without its ``-shm`` cannot be read
        there: copy both files somewhere writable. A vault that needs a schema upgrade cannot be opened
        read-only.

        Args:
            location: a file path, ``":memory:"``, or a libSQL URL (``libsql://``, ``http(s)://``).
            key: where the master key comes from. Defaults to ``VECVAULT_KEY`` when set, else the OS
                keychain. Raw 32 bytes are accepted as a static key.
            file_encryption: libSQL page encryption, a second layer under the sealed fields. ``None``
                turns it on for a new local vault and detects it for an existing one.
            create: create the vault if it does not exist; with False a missing vault is an error.
            driver: ``"libsql"`` (default) or ``"libsql_experimental"``.
            auth_token: token for a libSQL server or sync URL.
            sync_url: the primary of an embedded replica, where the binding supports it.
            tracer: called with every SQL statement (never with values).

        Raises:
            KeyUnavailableError: no master key could be read; nothing was created.
            WrongKeyError: the key does not open this vault.
            NotAVaultError: the file is not a vecvault database.
            SchemaVersionError: the vault was written by a newer vecvault.
            StorageError: the file cannot be opened, e.g. a new vault in a read-only directory.
        """
        location = os.fspath(location)
        provider = _as_key_provider(key)
        remote = is_remote_url(location)
        memory = location == ":memory:"
        state: file_layer.FileState | None = None
        if remote or memory:
            kind = "unknown"
            if file_encryption:
                raise ConfigurationError(
                    "file_encryption applies to local files only; a libSQL server or :memory: database is not "
                    "page-encrypted by vecvault (sealed fields stay sealed). Pass file_encryption=None."
                )
        else:
            location = file_layer.local_path(location)
            state = file_layer.file_state(location)
            kind = state.kind
            if kind == "new":
                if not create:
                    raise ConfigurationError(f"No vault at {location}; pass create=True to create one.")
                file_layer.check_no_orphan_sidecars(location)
                Storage.check_can_create(location)  # before a key is made for a vault that cannot exist
            if kind == "plain" and file_encryption:
                raise ConfigurationError(
                    f"{location} was created without file encryption; open it with file_encryption=None, "
                    "or turn it on with `vecvault rotate --file`."
                )
            if kind == "encrypted" and file_encryption is False:
                raise ConfigurationError(
                    f"{location} uses file encryption; open it with file_encryption=None (detected)."
                )
        # A new master key is made only for a vault that does not exist yet, never because a read failed.
        if kind == "new":
            try:
                master = provider.load_key()
            except KeyNotFoundError:
                master = provider.create_key()
        else:
            master = provider.load_key()
        crypto.check_master_key(master)
        encrypt_file = (kind == "new" and file_encryption is not False) or kind == "encrypted"
        file_key = crypto.derive_file_key(master) if encrypt_file else None
        if state is not None and state.hot_journal:
            # An interrupted re-key: the open plays its journal back, which must happen under the key the
            # journal was written with (the file's previous key), never another: that would corrupt it.
            file_key = file_layer.rollback_key(location, state, [file_key], Storage.page_key_fingerprint)
        storage = Storage.open(location, file_key=file_key, driver=driver, auth_token=auth_token, sync_url=sync_url)
        storage.tracer = tracer
        try:
            return cls._attach(storage, master, provider, create=create)
        except BaseException:
            storage._close_quietly()
            raise

    @classmethod
    def _attach(cls, storage: Storage, master: bytes, provider: KeyProvider, *, create: bool) -> Vault:
        version = storage.schema_version()
        if version is None:
            if not create:
                raise ConfigurationError(
                    f"No vault at {storage.shown_location} (the database is empty): create one with "
                    "Vault.open(..., create=True), or `vecvault init` on the command line."
                )
            vault_id = os.urandom(_VAULT_ID_BYTES)
            if isinstance(provider, VaultRegistry):
                # Before the vault exists: a crash in between leaves a listed vault that is not there, which
                # only ever makes an in-place key rotation more careful, never less.
                provider.register_vault(vault_id.hex())
            kek = crypto.derive_kek(master, vault_id)
            keyset = Keyset()
            first = DataKey.generate(keyset.new_key_id(), scope="")
            keyset.add(first)
            with storage.transaction():
                storage.create_schema({"vault_id": vault_id, "created_at": str(time.time()).encode()})
                storage.insert_key(_key_row(kek, vault_id, first))
            return cls(storage, vault_id=vault_id, keyset=keyset, kek=kek, key_provider=provider)
        storage.migrate()
        stored_id = storage.get_meta("vault_id")
        if stored_id is None or len(stored_id) != _VAULT_ID_BYTES:
            raise StorageError(f"{storage.shown_location} has no valid vault id; restore it from a backup.")
        vault_id = stored_id
        kek = crypto.derive_kek(master, vault_id)
        keyset = Keyset(_open_key(kek, vault_id, row) for row in storage.load_keys())
        vault = cls(storage, vault_id=vault_id, keyset=keyset, kek=kek, key_provider=provider)
        if keyset.has_live_legacy_keys():
            from vecvault.lifecycle import upgrade_legacy_keys

            # Re-seal into field format v2 (binds each write's fields together). A record that does not
            # open (`vecvault verify` names it), or a busy or read-only vault, stops the upgrade: the vault
            # stays readable, its legacy keys still open their v1 fields, and the next open resumes.
            with contextlib.suppress(IntegrityError, StorageError):
                upgrade_legacy_keys(vault)
        return vault

    # -- properties --------------------------------------------------------------------------------------

    @property
    def vault_id(self) -> str:
        """The vault's random id (hex): bound into every sealed field."""
        return self._vault_id.hex()

    @property
    def location(self) -> str:
        """The file path or server URL."""
        return self._storage.location

    @property
    def file_encrypted(self) -> bool:
        """Whether libSQL page encryption is on for this file."""
        return self._storage.file_encrypted

    @property
    def remote(self) -> bool:
        """Whether the vault lives on a libSQL server."""
        return self._storage.remote

    @property
    def read_only(self) -> bool:
        """Whether the vault was opened read-only because this process cannot write its file (see :meth:`open`)."""
        return self._storage.read_only

    @property
    def key_description(self) -> str:
        """Where the master key comes from (never the key)."""
        return self._key_provider.description

    def exposure(self) -> list[str]:
        """Plain-language lines: what the server (or whoever holds the file) can see without the master key."""
        from vecvault.exposure import describe_exposure
        from vecvault.storage import display_location

        shapes = self.collection_info()
        storage = self._storage
        return describe_exposure(
            location=display_location(storage.location),
            remote=storage.remote,
            replica=storage.replica,
            file_encrypted=storage.file_encrypted,
            collections=shapes,
        )

    def __repr__(self) -> str:
        from vecvault.storage import display_location

        location = display_location(self.location)
        return f"Vault({location!r}, vault_id={self.vault_id!r}, file_encrypted={self.file_encrypted})"

    # -- collections -------------------------------------------------------------------------------------

    def collection(
        self,
        name: str,
        dim: int | None = None,
        metric: str = "cosine",
        *,
        vectors: str = "sealed",
        model: str | None = None,
        create: bool = True,
        allow_plaintext_vectors: bool = False,
        native_index: bool = False,
        index: str = "exact",
    ) -> Collection:
        """Return a collection, creating it on first use.

        Args:
            name: the collection's name (stored in plaintext).
            dim: the vector dimension. ``None`` takes it from an existing collection, or from the first
                vectors added to a new one.
            metric: ``"cosine"`` (default), ``"dot"`` or ``"euclidean"``.
            vectors: ``"sealed"`` (default): vectors exist only as sealed fields.
                ``"plain"``: vectors are *also* stored unsealed in an ``F32_BLOB`` column so libSQL's
                ``vector_distance_cos`` / ``vector_distance_l2`` (and, with ``native_index``, its DiskANN
                index) rank them inside SQL, for vaults too large to hold in memory. This leaks the
                vectors (and through inversion attacks, much of the text) to anyone who reads the database
                without the file layer: it is refused on an unencrypted or remote database unless
                ``allow_plaintext_vectors=True``. Plain mode supports the cosine and euclidean metrics.
            model: the embedding model's name, checked on every reopen when given.
            create: with False, a missing collection raises ConfigurationError.
            allow_plaintext_vectors: accept ``plain`` mode where no file encryption hides the vectors.
            native_index: with ``plain``, build libSQL's DiskANN index (approximate; slow to ingest).
            index: ``"exact"`` (default): exact search. ``"hnsw"``: an approximate HNSW graph (needs
                hnswlib), built lazily on the first search and kept sealed in the vault; hits are still
                scored exactly. ``"auto"``: exact below ``vecvault.vault.AUTO_HNSW_MIN`` records, HNSW
                above. A per-process choice (not stored); sealed vectors only.

        Raises:
            ConfigurationError: the collection exists with another dimension, metric or model.
        """
        self._check_open()
        if not isinstance(name, str) or not name or "\x00" in name:
            raise ConfigurationError("A collection name must be a non-empty string without NUL characters.")
        metric = normalize_metric(metric)
        if vectors not in VECTOR_MODES:
            raise ConfigurationError(f"Unknown vector mode {vectors!r}. Expected one of {list(VECTOR_MODES)}.")
        if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0):
            raise ConfigurationError(f"dim must be a positive int, not {dim!r}.")
        if vectors == "plain":
            self._check_plain_allowed(name, metric, allow_plaintext_vectors)
        elif native_index:
            raise ConfigurationError("native_index needs vectors='plain' (libSQL indexes only unsealed vectors).")
        if index not in INDEX_MODES:
            raise ConfigurationError(f"Unknown index {index!r}. Expected one of {list(INDEX_MODES)}.")
        if index != "exact" and vectors == "plain":
            raise ConfigurationError("index='hnsw'/'auto' needs sealed vectors; plain mode ranks inside libSQL.")
        with self._lock:
            row = self._storage.collection(name)
            if row is None and not create:
                raise ConfigurationError(f"No collection named {name!r}; existing: {self.collections()}.")
            if row is not None:
                _check_same(row, dim=dim, metric=metric, vectors=vectors, model=model)
            col = self._collections.get(name)
            if col is None:
                col = Collection(self, name, row, pending=(dim, metric, vectors, model), native_index=native_index)
                self._collections[name] = col
            else:
                col._config = row
                if row is None:
                    col._pending = (dim, metric, vectors, model)
                    col._native_index = native_index
            col._index_mode = index
            if row is None and dim is not None:
                col._create(dim)
            return col

    def _check_plain_allowed(self, name: str, metric: str, allowed: bool) -> None:
        if metric not in ("cosine", "euclidean"):
            raise ConfigurationError(
                f"vectors='plain' supports the cosine and euclidean metrics (libSQL has no native {metric!r}); "
                "use vectors='sealed' for this metric."
            )
        if (self.remote or not self.file_encrypted) and not allowed:
            where = "a libSQL server" if self.remote else "a database without file encryption"
            raise ConfigurationError(
                f"Collection {name!r}: vectors='plain' on {where} stores embeddings readable by anyone with the "
                "database, and embeddings can be inverted back into text. Use vectors='sealed' (the default), "
                "or pass allow_plaintext_vectors=True to accept that leak."
            )

    def collections(self) -> list[str]:
        """Names of the collections in this vault."""
        with self._lock:
            self._check_open()
            return [row.name for row in self._storage.collections()]

    def collection_info(self) -> list[CollectionInfo]:
        """Configuration and record count of every collection."""
        with self._lock:
            self._check_open()
            return [
                CollectionInfo(r.name, r.dim, r.metric, r.vectors, r.model, self._storage.count(r.name))
                for r in self._storage.collections()
            ]

    def drop_collection(self, name: str) -> bool:
        """Delete a collection and every record in it, and destroy its data keys; return whether it existed.

        Destroying the keys (crypto-shredding) makes the collection's records unrecoverable from any
        backup of this file too, once the backup's copy of the key table is gone as well.
        """
        with self._lock:
            self._check_open()
            existed = self._storage.collection(name) is not None
            with self._storage.transaction():
                self._reload_keys_if_changed()
                row = self._storage.collection(name)
                if row is not None and row.vectors == "plain":
                    self._storage.drop_plain(name)
                self._storage.drop_collection(name)
                for key in self._keyset.in_scope(name):
                    key.destroy()
                    self._storage.update_key(_key_row(self._kek, self._vault_id, key))
            self._collections.pop(name, None)
            self._storage.checkpoint()
            return existed

    # -- key lifecycle (implemented in vecvault.lifecycle) -----------------------------------------------

    def rotate_data_keys(
        self, collection: str | None = None, *, batch_size: int = 500, progress: ProgressCallback | None = None
    ) -> list[RotationReport]:
        """Re-seal a collection's records (or every collection's) under a fresh data key; resumable.

        See :func:`vecvault.lifecycle.rotate_data_keys`.
        """
        from vecvault.lifecycle import rotate_data_keys

        return rotate_data_keys(self, collection, batch_size=batch_size, progress=progress)

    def shred(self, collection: str) -> int:
        """Crypto-shred a collection (destroy its data keys, delete its records); return the record count."""
        from vecvault.lifecycle import shred

        return shred(self, collection)

    def shred_all(self) -> list[str]:
        """Crypto-shred every collection and replace the vault-scope key; return the shredded names."""
        from vecvault.lifecycle import shred_all

        return shred_all(self)

    def verify(self, *, progress: ProgressCallback | None = None) -> VerifyReport:
        """Open every sealed field of every record; return a report of failures (never raises for one)."""
        from vecvault.lifecycle import verify

        return verify(self, progress=progress)

    def key_info(self) -> list[KeyInfo]:
        """Every data key's id, scope, state, encryption count and record count (no key material)."""
        from vecvault.lifecycle import key_info

        return key_info(self)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("This vault is closed; open it again with Vault.open(...).")

    def close(self) -> None:
        """Checkpoint (so deleted data leaves the WAL), close the database and forget the keys."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._storage.close()
            finally:
                for key in self._keyset:
                    key.material = None
                    key._aead = None
                self._kek = b""
                self._collections.clear()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internal helpers used by collections ------------------------------------------------------------

    @contextmanager
    def _write(self, scope: str, sealed_count: int) -> Iterator[DataKey]:
        """A write transaction that persists the scope's primary key count; rotates the key when due."""
        with self._storage.transaction():
            self._reload_keys_if_changed()
            primary = self._keyset.primary_for(scope)
            if primary is None or primary.legacy or self._keyset.needs_rotation(scope, sealed_count):
                primary = self._new_primary(scope)  # a legacy (v1) key never seals: it is replaced first
            yield primary
            if sealed_count:
                self._storage.add_encryptions(primary.key_id, sealed_count)

    def _new_primary(self, scope: str) -> DataKey:
        """Make a fresh data key primary for a scope (inside a write transaction); old keys keep opening."""
        old = self._keyset.primary_for(scope)
        fresh = DataKey.generate(self._keyset.new_key_id(), scope=scope)
        self._keyset.add(fresh)
        if old is not None:
            self._storage.update_key(_key_row(self._kek, self._vault_id, old))
        self._storage.insert_key(_key_row(self._kek, self._vault_id, fresh))
        return fresh

    def _reload_keys_if_changed(self) -> None:
        """Pick up data keys added or changed by another connection (rotation, a new collection)."""
        rows = self._storage.load_keys()
        known = {k.key_id: k for k in self._keyset}
        for row in rows:
            key = known.get(row.key_id)
            if key is None:
                self._keyset.add_existing(_open_key(self._kek, self._vault_id, row))
            else:
                if row.state != key.state.value:
                    key.state = _key_state(row)
                    if key.state is KeyState.DESTROYED:
                        key.destroy()
                key.encryptions = max(key.encryptions, row.encryptions)


def _key_row(kek: bytes, vault_id: bytes, key: DataKey) -> KeyRow:
    wrapped = (
        None
        if key.material is None
        else crypto.wrap_data_key(kek, vault_id, key.key_id, key.material, key_format=key.key_format)
    )
    return KeyRow(key.key_id, key.scope, key.state.value, wrapped, key.encryptions)


_WRAPPED_KEY_BYTES = crypto.NONCE_BYTES + crypto.KEY_BYTES + crypto.TAG_BYTES


def _damaged_key(row: KeyRow, what: str) -> IntegrityError:
    return IntegrityError(
        f"Data key {row.key_id} is damaged: {what}. The vault's key table was altered or corrupted; restore "
        f"the vault from a backup: {RESTORE_HINT}."
    )


def _key_state(row: KeyRow) -> KeyState:
    """A key row's state; an unknown one is an IntegrityError (the row's shape is checked by storage)."""
    try:
        return KeyState(row.state)
    except ValueError:
        known = ", ".join(state.value for state in KeyState)
        raise _damaged_key(row, f"its state is {row.state[:40]!r}, not one of {known}") from None


def _open_key(kek: bytes, vault_id: bytes, row: KeyRow) -> DataKey:
    state = _key_state(row)
    material = None
    key_format = crypto.KEY_FORMAT_V2
    if state is not KeyState.DESTROYED:
        if row.wrapped is None:
            raise _damaged_key(row, f"it is {state.value} but its wrapped key material is missing")
        if len(row.wrapped) != _WRAPPED_KEY_BYTES:
            raise _damaged_key(row, f"its wrapped key material is {len(row.wrapped)} bytes, not {_WRAPPED_KEY_BYTES}")
        material, key_format = crypto.unwrap_data_key_with_format(kek, vault_id, row.key_id, row.wrapped)
    return DataKey(
        key_id=row.key_id,
        state=state,
        scope=row.scope,
        material=material,
        encryptions=row.encryptions,
        key_format=key_format,
    )


def _check_same(row: CollectionRow, *, dim: int | None, metric: str, vectors: str, model: str | None) -> None:
    if dim is not None and dim != row.dim:
        raise ConfigurationError(
            f"Collection {row.name!r} stores vectors of dimension {row.dim}, not {dim}; use the same embedding "
            "model, or a new collection name."
        )
    if metric != row.metric:
        raise ConfigurationError(
            f"Collection {row.name!r} uses the {row.metric!r} metric, not {metric!r}; pass metric={row.metric!r}."
        )
    if vectors != row.vectors:
        raise ConfigurationError(f"Collection {row.name!r} uses vectors={row.vectors!r}; pass vectors={row.vectors!r}.")
    if model is not None and row.model is not None and model != row.model:
        raise ConfigurationError(
            f"Collection {row.name!r} was built with the embedding model {row.model!r}, not {model!r}; its "
            "vectors are not comparable. Use the same model, or a new collection name."
        )


def _check_k(k: int, what: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ConfigurationError(f"{what} must be a positive int, not {k!r}.")
    return int(k)


class Collection:
    """Records of one dimension and metric inside a vault. Get one with :meth:`Vault.collection`."""

    def __init__(
        self,
        vault: Vault,
        name: str,
        config: CollectionRow | None,
        *,
        pending: tuple[int | None, str, str, str | None],
        native_index: bool = False,
    ) -> None:
        self._vault = vault
        self.name = name
        self._config = config
        self._pending = pending
        self._native_index = native_index
        self._sealer = RecordSealer(vault._keyset, vault._vault_id, name)
        self._index: VectorIndex | None = None
        self._known: tuple[int, int] | None = None  # (rev, epoch) the index reflects
        self._index_mode = "exact"
        self._ann: HnswIndex | None = None
        self._ann_save_due = False
        self._ann_stale = False  # the stored graph does not open: never retried, replaced by the next save

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, dim={self.dim}, metric={self.metric!r})"

    # -- configuration -----------------------------------------------------------------------------------

    @property
    def dim(self) -> int | None:
        """Vector dimension (None until the first add to a collection created without one)."""
        return self._config.dim if self._config is not None else self._pending[0]

    @property
    def metric(self) -> str:
        """``cosine``, ``dot`` or ``euclidean``."""
        return self._config.metric if self._config is not None else self._pending[1]

    @property
    def vector_mode(self) -> str:
        """``sealed`` or ``plain``."""
        return self._config.vectors if self._config is not None else self._pending[2]

    @property
    def model(self) -> str | None:
        """The embedding model's name, if recorded."""
        return self._config.model if self._config is not None else self._pending[3]

    @property
    def vault(self) -> Vault:
        """The vault holding this collection."""
        return self._vault

    def _create(self, dim: int) -> CollectionRow:
        _, metric, vectors, model = self._pending
        storage = self._vault._storage
        options = json.dumps({"native_index": bool(self._native_index)}) if vectors == "plain" else "{}"
        with self._vault._write(self.name, 0):  # creates the collection's own data key
            storage.create_collection(
                CollectionRow(self.name, dim, metric, vectors, model, rev=0, epoch=0, options=options)
            )
            row = storage.collection(self.name)
            if row is not None and row.vectors == "plain":
                storage.create_plain_table(self.name, row.dim, row.metric, native_index=self._plain_native(row))
        if row is None:
            raise StorageError(f"Collection {self.name!r} could not be created.")
        _check_same(row, dim=dim, metric=metric, vectors=vectors, model=model)
        self._config = row
        return row

    @staticmethod
    def _plain_native(row: CollectionRow) -> bool:
        try:
            options = json.loads(row.options or "{}")
        except ValueError:
            return False
        return bool(isinstance(options, dict) and options.get("native_index"))

    def _refresh_config(self) -> CollectionRow | None:
        if self._config is None:
            self._config = self._vault._storage.collection(self.name)
        return self._config

    # -- freshness ---------------------------------------------------------------------------------------

    def _sync(self, *, with_metadata: bool = False) -> VectorIndex | None:
        """Bring the in-memory index up to the database's state; call with the vault lock held."""
        config = self._refresh_config()
        if config is None:
            return None
        storage = self._vault._storage
        state = storage.revision(self.name)
        if state is None:
            # Dropped by another connection: forget everything.
            self._config = None
            self._index = None
            self._known = None
            return None
        index = self._index
        need_meta = with_metadata and (index is None or index.metadata is None)
        if index is None or self._known is None or state[1] != self._known[1] or need_meta:
            return self._load(config, with_metadata=with_metadata or (index is not None and index.metadata is not None))
        if state[0] == self._known[0]:
            return index
        known_rev = self._known[0]
        deleted = storage.deletions_since(self.name, known_rev)
        columns = self._scan_columns(config, index.metadata is not None)
        changed = storage.scan(self.name, columns, since_rev=known_rev)
        index.remove(deleted)
        self._apply_rows(index, changed, config.dim)
        self._known = state
        return index

    def _load(self, config: CollectionRow, *, with_metadata: bool) -> VectorIndex:
        storage = self._vault._storage
        state = storage.revision(self.name) or (0, 0)
        if self._ann is None and self._index_mode != "exact" and config.vectors != "plain":
            loaded = self._load_with_stored_graph(config, state, with_metadata=with_metadata)
            if loaded is not None:
                return loaded
        columns = self._scan_columns(config, with_metadata)
        # Plain mode ranks in SQL: its in-memory index holds ids and metadata only (zero-width vectors).
        index = VectorIndex(0 if config.vectors == "plain" else config.dim, config.metric)
        if with_metadata:
            index.metadata = MetadataTable()
        # Page by page into a matrix sized once: memory stays near the vectors' own size.
        index.reserve(storage.count(self.name))
        for rows in storage.scan_pages(self.name, columns):
            self._apply_rows(index, rows, config.dim)
        self._index = index
        self._known = state
        return index

    def _load_with_stored_graph(
        self, config: CollectionRow, state: tuple[int, int], *, with_metadata: bool
    ) -> VectorIndex | None:
        """Reopen fast path: decrypt each vector straight into the stored graph's element records.

        Taken only when a stored graph holds exactly the current records, none of them written after the
        graph (each record's write version, authenticated as its vector opens, is at most the graph's);
        the exact index is then born released (its rows are read from the graph), so a reopen decrypts and
        holds every vector once. Anything unexpected returns None and the general path runs instead
        (which also rebuilds a graph that does not open).
        """
        from vecvault import ann_store

        storage = self._vault._storage
        count = storage.count(self.name)
        if sys.byteorder != "little" or not self._wants_graph(config.dim, count):
            return None
        if self._ann_stale or not storage.has_ann(self.name) or not self._revs_authenticated():
            return None
        try:
            chunks = (ann_store.SealedChunk(*r) for r in storage.iter_ann(self.name))
            rev, data = ann_store.open_graph(self._vault._keyset, self._vault._vault_id, self.name, chunks)
            skeleton = HnswIndex.skeleton(data, config.dim, config.metric)
        except IntegrityError:
            self._ann_stale = True
            return None
        del data
        graph = skeleton.graph
        live = len(graph)
        if graph.rev != rev or live != count:
            return None
        label_of = graph._label_of
        position = skeleton.position_of_label(np.arange(len(graph._id_of)))
        index = VectorIndex(config.dim, config.metric)
        if with_metadata:
            index.metadata = MetadataTable()
        index.release_vectors(graph.gather)
        row_labels = np.empty(live, dtype=np.int64)
        filled = 0
        for rows in storage.scan_pages(self.name, self._scan_columns(config, with_metadata)):
            ids = [str(r[0]) for r in rows]
            found = list(map(label_of.get, ids))
            if filled + len(ids) > live or None in found:
                return None  # a record the stored graph does not know
            revs = [r[1] for r in rows]
            written = _rev_array(revs)
            if written.size and int(written.max()) > rev:
                return None  # a record written after the graph: the general path catches the graph up
            labels = np.array(found, dtype=np.int64)
            page = np.empty((len(ids), config.dim), dtype=np.float32)
            self._sealer.open_vectors_into(ids, [r[2] for r in rows], revs, page)  # authenticates the revs
            page = index.prepare(page, in_place=True)
            skeleton.vectors[position[labels]] = page
            metadatas = self._sealer.open_metadatas(ids, [r[3] for r in rows], revs) if with_metadata else None
            index.extend_released(ids, np.einsum("ij,ij->i", page, page), metadatas, written)
            row_labels[filled : filled + len(ids)] = labels
            filled += len(ids)
        if filled != live:
            return None
        deleted = [label for label, rid in enumerate(graph._id_of) if rid is None]
        if deleted:
            skeleton.vectors[position[deleted]] = 0.0
        skeleton.install()
        graph.adopt(index, row_labels)
        self._ann = graph
        self._index = index
        self._known = state
        return index

    @staticmethod
    def _scan_columns(config: CollectionRow, with_metadata: bool) -> list[str]:
        columns = ["rev"] if config.vectors == "plain" else ["rev", "vector"]
        return [*columns, "metadata"] if with_metadata else columns

    def _apply_rows(self, index: VectorIndex, rows: Sequence[tuple[Any, ...]], dim: int) -> None:
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
        index.upsert(ids, matrix, metadatas, owned=True, revs=_rev_array(revs) if opened else None)

    # -- writes ------------------------------------------------------------------------------------------

    def add(
        self,
        texts: Sequence[str] | None = None,
        vectors: Any = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Insert or replace records (upsert by id) in one transaction: all of the batch or none of it.

        Args:
            texts: the record texts (``None`` stores empty texts).
            vectors: a 2-D numpy array or a sequence of float sequences, one row per record.
            metadatas: JSON-compatible dicts, one per record (or None).
            ids: string ids; random ids are generated when omitted. User ids are stored in plaintext.

        Returns:
            The ids, in input order.

        Raises:
            ConfigurationError: any bad input; nothing is stored.
        """
        if vectors is None:
            raise ConfigurationError("add() needs vectors: one embedding per record.")
        n = len(texts) if texts is not None else None
        if texts is not None and isinstance(texts, str):
            raise ConfigurationError("texts must be a list of strings, not one string; wrap it: texts=[text].")
        with self._vault._lock:
            self._vault._check_open()
            config = self._refresh_config()
            matrix = check_vectors(vectors, n=n, dim=config.dim if config else self._pending[0])
            count = matrix.shape[0]
            if count == 0:
                return []
            text_list = self._check_texts(texts, count)
            meta_list = self._check_metadatas(metadatas, count)
            id_list = new_ids(count) if ids is None else check_ids(ids, count)
            if config is None:
                config = self._create(int(matrix.shape[1]))
            encoded_meta = [encode_metadata(m) for m in meta_list]
            encoded_texts = [text.encode() for text in text_list]
            storage = self._vault._storage
            with self._vault._write(self.name, 3 * count) as primary:
                old_rev, new_rev = storage.bump_revision(self.name)
                sealed_texts, sealed_meta, sealed_vectors = self._sealer.seal_records(
                    primary, id_list, encoded_texts, encoded_meta, matrix, rev=new_rev
                )
                storage.upsert_records(
                    self.name, new_rev, primary.key_id, id_list, sealed_texts, sealed_meta, sealed_vectors
                )
                if config.vectors == "plain":
                    storage.upsert_plain(self.name, [(rid, encode_vector(matrix[i])) for i, rid in enumerate(id_list)])
            in_memory = matrix if config.vectors != "plain" else np.empty((count, 0), dtype=np.float32)
            self._after_write(
                old_rev, new_rev, lambda index: index.upsert(id_list, in_memory, meta_list, revs=new_rev)
            )
            return id_list

    upsert = add

    @staticmethod
    def _check_texts(texts: Sequence[str] | None, count: int) -> list[str]:
        if texts is None:
            return [""] * count
        out = list(texts)
        for i, text in enumerate(out):
            if not isinstance(text, str):
                raise ConfigurationError(f"texts[{i}] is a {type(text).__name__}; texts must be strings.")
        return out

    @staticmethod
    def _check_metadatas(metadatas: Sequence[Mapping[str, Any] | None] | None, count: int) -> list[dict[str, Any]]:
        if metadatas is None:
            return [{} for _ in range(count)]
        if isinstance(metadatas, Mapping):
            raise ConfigurationError("metadatas must be a list of dicts, one per record; wrap it: [metadata].")
        out = list(metadatas)
        if len(out) != count:
            raise ConfigurationError(f"Got {len(out)} metadatas for {count} records; pass one per record.")
        return check_metadatas(out)

    def _after_write(self, old_rev: int, new_rev: int, apply: Any) -> None:
        """Apply our own committed write to the loaded index, if it was current before the write."""
        index = self._index
        if index is None or self._known is None:
            return
        if self._known[0] == old_rev:
            apply(index)
            self._known = (new_rev, self._known[1])

    def delete(self, ids: Sequence[str] | None = None, *, filter: Any = None) -> int:
        """Delete records by id and/or filter; return how many were deleted. Unknown ids are ignored.

        Deleted ciphertext is overwritten in the database (``secure_delete``), then the WAL is copied
        back and truncated. What is guaranteed about the files (database, ``-wal``):

        - no other connection is reading the file: the ciphertext is gone from them when this returns;
        - another connection (another process, an export, a second :meth:`Vault.open`) is inside a read
          at that moment: its snapshot pins the old pages, so the ciphertext stays until those readers
          finish *and* this vault writes again, deletes again or closes (or the last connection to the
          file closes). This call waits a few tens of milliseconds for them, never longer.
        """
        if ids is None and filter is None:
            raise ConfigurationError("delete() needs ids or a filter; to delete everything use clear().")
        if isinstance(ids, str):
            raise ConfigurationError("ids must be a list of strings, not one string; wrap it: ids=[the_id].")
        parsed = parse_filter(filter)
        with self._vault._lock:
            self._vault._check_open()
            if self._refresh_config() is None:
                return 0
            targets = list(dict.fromkeys(ids)) if ids is not None else None
            if parsed is not None:
                matching = self._matching_ids(parsed)
                targets = matching if targets is None else [i for i in targets if i in set(matching)]
            if not targets:
                return 0
            storage = self._vault._storage
            with self._vault._write(self.name, 0):
                old_rev, new_rev = storage.bump_revision(self.name)
                deleted = storage.delete_records(self.name, targets, new_rev)
                if self._config is not None and self._config.vectors == "plain":
                    storage.delete_plain(self.name, targets)
                pruned = storage.prune_deletions(self.name, _DELETION_LOG_LIMIT)
                epoch = storage.bump_epoch(self.name) if pruned else None
            self._after_write(old_rev, new_rev, lambda index: index.remove(targets))
            if epoch is not None and self._known is not None and self._known[0] == new_rev:
                self._known = (new_rev, epoch)
            storage.checkpoint()
            return deleted

    def clear(self) -> int:
        """Delete every record of the collection (it keeps its configuration); return how many.

        The deleted ciphertext leaves the files as :meth:`delete` describes.
        """
        with self._vault._lock:
            self._vault._check_open()
            if self._refresh_config() is None:
                return 0
            storage = self._vault._storage
            with self._vault._write(self.name, 0):
                storage.bump_revision(self.name)
                count = storage.clear_records(self.name)
                if self._config is not None and self._config.vectors == "plain":
                    storage.clear_plain(self.name)
                storage.bump_epoch(self.name)
            self._index = None
            self._known = None
            storage.checkpoint()
            return count

    # -- reads -------------------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of records."""
        with self._vault._lock:
            self._vault._check_open()
            if self._refresh_config() is None:
                return 0
            return self._vault._storage.count(self.name)

    def ids(self) -> list[str]:
        """Every record id."""
        with self._vault._lock:
            self._vault._check_open()
            if self._refresh_config() is None:
                return []
            return self._vault._storage.all_ids(self.name)

    def _matching_ids(self, parsed: Filter) -> list[str]:
        storage = self._vault._storage
        with storage.snapshot():
            index = self._sync(with_metadata=True)
        if index is None or index.metadata is None:
            return []
        mask = index.metadata.mask(parsed)
        return [index.ids[i] for i in np.flatnonzero(mask)]

    def get(
        self,
        ids: Sequence[str] | None = None,
        *,
        filter: Any = None,
        limit: int | None = None,
        include_vectors: bool = True,
    ) -> list[Record]:
        """Open records by id (in the order asked, missing ids skipped) and/or by filter.

        With neither ids nor filter, returns every record (up to ``limit``).
        """
        if isinstance(ids, str):
            raise ConfigurationError("ids must be a list of strings, not one string; wrap it: ids=[the_id].")
        parsed = parse_filter(filter)
        with self._vault._lock:
            self._vault._check_open()
            config = self._refresh_config()
            if config is None:
                return []
            storage = self._vault._storage
            if parsed is not None:
                matching = self._matching_ids(parsed)
                wanted = matching if ids is None else [i for i in dict.fromkeys(ids) if i in set(matching)]
            elif ids is None:
                wanted = storage.all_ids(self.name)
            else:
                wanted = list(ids)
            if limit is not None:
                wanted = wanted[: max(0, int(limit))]
            columns = ["rev", "text", "metadata", "vector"] if include_vectors else ["rev", "text", "metadata"]
            found = storage.fetch(self.name, list(dict.fromkeys(wanted)), columns)
            out: list[Record] = []
            for record_id in wanted:
                row = found.get(record_id)
                if row is None:
                    continue
                rev = row[0]  # the write version: every field must be of this one write
                vector = self._sealer.open_vector(record_id, row[3], rev, config.dim) if include_vectors else None
                out.append(
                    Record(
                        id=record_id,
                        text=self._sealer.open_text(record_id, row[1], rev),
                        metadata=self._sealer.open_metadata(record_id, row[2], rev),
                        vector=vector,
                    )
                )
            return out

    def search(self, vector: Any, k: int = DEFAULT_K, *, filter: Any = None) -> list[Hit]:
        """Exact nearest neighbours of ``vector``, best first; ``k`` hits whenever ``k`` records match.

        Args:
            vector: the query embedding (the collection's dimension).
            k: how many hits.
            filter: a Mongo-style dict (``{"topic": "a", "year": {"$gte": 2020}}``) or a
                :mod:`vecvault.filters` expression.
        """
        k = _check_k(k)
        parsed = parse_filter(filter)
        with self._vault._lock:
            prepared = self._prepare_query(vector)
            if prepared is None:
                return []
            config, query = prepared
            with self._vault._storage.snapshot():
                if config.vectors == "plain":
                    return self._hits(config, query, self._plain_candidates(config, query, k, parsed))
                indexed = self._indexed(parsed)
                if indexed is None:
                    return []
                index, mask = indexed
                ann = self._ann_for(index)
                if ann is None:
                    scored = index.search(query, k, mask)
                    return self._hits(config, query, [(index.ids[s.row], s.score) for s in scored], index)
                rows, scores = ann.candidates(query, k, mask)
                hits = self._hits(
                    config, query, [(index.ids[r], float(s)) for r, s in zip(rows, scores, strict=True)], index
                )
            self._save_ann_if_due()
            return hits

    def search_mmr(
        self,
        vector: Any,
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = 0.5,
        *,
        filter: Any = None,
    ) -> list[Hit]:
        """Maximal marginal relevance: ``k`` hits from the top ``fetch_k``, diverse by ``lambda_mult``.

        The top ``fetch_k`` are exact, or the HNSW graph's candidates when the collection searches through
        its graph (``index="hnsw"``, or ``"auto"`` above its threshold).

        ``lambda_mult`` = 1 is pure relevance, 0 is pure diversity.
        """
        k = _check_k(k)
        fetch_k = _check_k(fetch_k, "fetch_k")
        if fetch_k < k:
            raise ConfigurationError(f"fetch_k ({fetch_k}) must be at least k ({k}).")
        if not isinstance(lambda_mult, (int, float)) or not 0.0 <= float(lambda_mult) <= 1.0:
            raise ConfigurationError(f"lambda_mult must be between 0 and 1, not {lambda_mult!r}.")
        parsed = parse_filter(filter)
        with self._vault._lock:
            prepared = self._prepare_query(vector)
            if prepared is None:
                return []
            config, query = prepared
            storage = self._vault._storage
            with storage.snapshot():
                if config.vectors == "plain":
                    candidates = self._plain_candidates(config, query, fetch_k, parsed)
                    if not candidates:
                        return []
                    raw = storage.plain_vectors(self.name, [i for i, _ in candidates])
                    matrix = np.stack([decode_vector(raw[i], config.dim) for i, _ in candidates])
                    picked = maximal_marginal_relevance(query, matrix, k=k, lambda_mult=float(lambda_mult))
                    return self._hits(config, query, [candidates[i] for i in picked], ranked=False)
                indexed = self._indexed(parsed)
                if indexed is None:
                    return []
                index, mask = indexed
                ann = self._ann_for(index)
                # With a graph, MMR picks among the graph's fetch_k candidates, as a search would find them.
                found = ann.candidates(query, fetch_k, mask) if ann is not None else None
                scored = index.search_mmr(query, k, fetch_k, float(lambda_mult), mask, candidates=found)
                hits = self._hits(config, query, [(index.ids[s.row], s.score) for s in scored], index, ranked=False)
            self._save_ann_if_due()
            return hits

    # -- approximate index (index="hnsw" / "auto") -------------------------------------------------------

    def _wants_graph(self, dim: int, size: int) -> bool:
        """Whether a collection of ``size`` records searches through the HNSW graph (its index mode)."""
        mode = self._index_mode
        return mode != "exact" and dim > 0 and (mode != "auto" or size >= AUTO_HNSW_MIN)

    def _ann_for(self, index: VectorIndex) -> HnswIndex | None:
        """The HNSW graph caught up with ``index``, or None for the exact path (inside the snapshot)."""
        if not self._wants_graph(index.dim, len(index)):
            index.restore_vectors()  # the exact path scans the matrix (after a switch to index="exact")
            return None
        storage = self._vault._storage
        ann = self._ann
        if ann is None:
            ann = self._ann = self._load_ann(index)
        if ann._source is not index:
            if ann.rev is not None and not self._revs_authenticated():
                ann = self._ann = HnswIndex(index.dim, index.metric)  # v1 records' revs prove nothing: rebuild
            ann.attach(index)  # re-inserts the records whose authenticated write version is newer than the graph
        if ann.behind:
            changed_count = ann.catch_up()
            # Save after a large change, or when no graph is stored (a delete drops the stored one) or the
            # stored one does not open.
            if (
                changed_count >= max(_ANN_SAVE_MIN, len(index) // 20)
                or self._ann_stale
                or not storage.has_ann(self.name)
            ):
                self._ann_save_due = True
        if ann.needs_rebuild:
            index.restore_vectors()  # the old graph may hold the only copy: take it back before dropping it
            ann = self._ann = HnswIndex(index.dim, index.metric)
            ann.attach(index)
            ann.catch_up()
            self._ann_save_due = True
        ann.rev = index.max_rev  # from the authenticated revs of the rows it now holds, not the plaintext counter
        if not index.released and ann.covers_source:
            index.release_vectors(ann.gather)  # the graph holds every vector: keep one copy, not two
        return ann

    def _load_ann(self, index: VectorIndex) -> HnswIndex:
        """The stored graph if it opens and fits this collection, else an empty one (rebuilt lazily).

        A stored graph that does not open is only a cache gone bad: it is never trusted and never tried
        again by this process; the rebuilt graph's save replaces it.
        """
        from vecvault import ann_store

        storage = self._vault._storage
        if not self._ann_stale and self._revs_authenticated() and storage.has_ann(self.name):
            try:
                chunks = (ann_store.SealedChunk(*r) for r in storage.iter_ann(self.name))
                rev, data = ann_store.open_graph(self._vault._keyset, self._vault._vault_id, self.name, chunks)
                ann = HnswIndex.from_bytes(data, index)
                if ann.rev != rev or ann.dim != index.dim or ann.metric != index.metric:
                    raise IntegrityError("The stored graph does not match its collection.")
                return ann
            except IntegrityError:
                self._ann_stale = True  # a damaged or foreign graph is never trusted: rebuild from the records
        return HnswIndex(index.dim, index.metric)

    def _revs_authenticated(self) -> bool:
        """Whether every record's write version is bound by its seal (no live legacy v1 key in the collection)."""
        return not self._vault._keyset.has_live_legacy_keys(self.name)

    def _save_ann_if_due(self) -> None:
        """Seal and store the graph after a large catch-up (outside the read snapshot)."""
        ann = self._ann
        if not self._ann_save_due or ann is None or ann.rev is None:
            return
        self._ann_save_due = False
        from vecvault import ann_store

        data = ann.to_bytes()
        try:
            with self._vault._write(self.name, ann_store.chunk_count(len(data))) as primary:
                chunks = ann_store.seal_graph(primary, self._vault._vault_id, self.name, ann.rev, data)
                self._vault._storage.save_ann(self.name, ((c.index, c.count, c.rev, c.key_id, c.blob) for c in chunks))
        except StorageError:
            self._ann_save_due = True  # busy: try again after the next search
            return
        self._ann_stale = False

    def _prepare_query(self, vector: Any) -> tuple[CollectionRow, npt.NDArray[np.float32]] | None:
        """The collection's configuration and the checked query; None while the collection has no records."""
        self._vault._check_open()
        config = self._refresh_config()
        if config is None:
            return None
        return config, check_query(vector, config.dim)

    def _indexed(self, parsed: Filter | None) -> tuple[VectorIndex, npt.NDArray[np.bool_] | None] | None:
        """The up-to-date in-memory index and the filter's row mask (inside the read snapshot)."""
        index = self._sync(with_metadata=parsed is not None)
        if index is None:
            return None
        return index, (index.metadata.mask(parsed) if parsed is not None else None)

    def _plain_candidates(
        self, config: CollectionRow, query: npt.NDArray[np.float32], k: int, parsed: Filter | None
    ) -> list[tuple[str, float]]:
        """Top ``k`` ``(id, score)`` ranked by libSQL inside SQL; filters use the in-memory metadata."""
        storage = self._vault._storage
        q = encode_vector(query)
        native = self._plain_native(config)
        if parsed is None:
            ranked = storage.plain_top_k(self.name, config.metric, q, k, native_index=native)
        else:
            index = self._sync(with_metadata=True)
            if index is None or index.metadata is None:
                return []
            mask = index.metadata.mask(parsed)
            matching = [index.ids[i] for i in np.flatnonzero(mask)]
            ranked = storage.plain_top_k(self.name, config.metric, q, k, ids=matching) if matching else []
        return [(record_id, _plain_score(config.metric, d)) for record_id, d in ranked]

    def _hits(
        self,
        config: CollectionRow,
        query: npt.NDArray[np.float32],
        scored: list[tuple[str, float]],
        index: VectorIndex | None = None,
        *,
        ranked: bool = True,
    ) -> list[Hit]:
        """Open the hits and score them exactly; ``index``: the index that ranked them by its opened vectors.

        The ranking was done in float32; each hit is scored again here in float64 from its stored float32
        vector (``index.exact_scores``: k dot products), so scores and distances are exact and inside their
        metric's range. ``ranked``: the hits are a top k, re-ordered by the exact score (ties keep their
        order); an MMR selection keeps its own order.
        """
        if not scored:
            return []
        storage = self._vault._storage
        found = storage.fetch(self.name, [record_id for record_id, _ in scored], ["rev", "text", "metadata", "vector"])
        ids = [record_id for record_id, _ in scored if record_id in found]
        if not ids:
            return []
        revs = [found[record_id][0] for record_id in ids]
        texts = self._sealer.open_texts(ids, [found[record_id][1] for record_id in ids], revs)
        metadatas = self._sealer.open_metadatas(ids, [found[record_id][2] for record_id in ids], revs)
        vectors = np.stack(
            [
                self._sealer.open_vector(record_id, found[record_id][3], rev, config.dim)
                for record_id, rev in zip(ids, revs, strict=True)
            ]
        )
        if index is not None and not storage.remote and not storage.replica:
            # Inside one read snapshot the index holds each record's current write: a hit's text and
            # metadata must be of the write whose vector ranked it.
            for record_id, rev in zip(ids, revs, strict=True):
                ranked_rev = index.rev_of(record_id)
                if ranked_rev is not None and ranked_rev >= 0 and ranked_rev != rev:
                    raise IntegrityError(
                        f"Record {record_id!r} was ranked by the vector of another write than its stored text "
                        "and metadata: the vault was altered. Run `vecvault verify`, or restore a backup."
                    )
        scores, distances = exact_scores(config.metric, query, vectors)
        order = np.argsort(-scores, kind="stable") if ranked else np.arange(len(ids))
        return [
            Hit(
                id=ids[i],
                text=texts[i],
                metadata=metadatas[i],
                score=float(scores[i]),
                relevance=relevance(config.metric, float(distances[i])),
                distance=float(distances[i]),
            )
            for i in order.tolist()
        ]

    def vectors(self) -> tuple[list[str], npt.NDArray[np.float32]]:
        """Every id and its indexed vector (unit length for cosine), as held in memory."""
        with self._vault._lock:
            self._vault._check_open()
            with self._vault._storage.snapshot():
                index = self._sync()
            if index is None:
                return [], np.empty((0, self.dim or 0), dtype=np.float32)
            return list(index.ids), index.vectors.copy()


def _rev_array(revs: Sequence[Any]) -> npt.NDArray[np.int64]:
    """Stored write versions as int64; one that is no integer means the file was altered."""
    try:
        return np.array(revs, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise IntegrityError("A record's write version (rev) is not an integer; the vault was altered.") from None


def _plain_score(metric: str, distance_value: float) -> float:
    """Turn libSQL's distance into this module's similarity score (see :mod:`vecvault.index`)."""
    if metric == "cosine":
        return 1.0 - distance_value
    return 1.0 / (1.0 + distance_value)
