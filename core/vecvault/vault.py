"""Vault: the public API of one encrypted libSQL database holding many collections.

A :class:`Vault` is one libSQL database (a local file, or a libSQL server). It opens through its engine
(:class:`vecvault.engine.VaultCore`: storage, keys, lock), hands out :class:`~vecvault.collection.Collection`
objects, and runs the key lifecycle (:mod:`vecvault.lifecycle`) on itself.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from vecvault.collection import (
    AUTO_HNSW_MIN,
    DEFAULT_FETCH_K,
    DEFAULT_K,
    Collection,
    check_same_config,
    stored_index_mode,
)
from vecvault.engine import VaultCore
from vecvault.errors import ConfigurationError, IntegrityError, StorageError
from vecvault.keys.base import KeyProvider
from vecvault.records import CollectionInfo
from vecvault.search.hnsw import INDEX_MODES
from vecvault.search.scores import normalize_metric
from vecvault.storage import Tracer

if TYPE_CHECKING:
    from vecvault.kv import KeyValueStore, KvNamespaceInfo
    from vecvault.lifecycle import KeyInfo, RotationReport, VerifyReport
    from vecvault.progress import ProgressCallback

__all__ = ["AUTO_HNSW_MIN", "DEFAULT_FETCH_K", "DEFAULT_K", "Collection", "CollectionInfo", "Vault"]

VECTOR_MODES = ("sealed", "plain")


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

    def __init__(self, core: VaultCore) -> None:
        """Wrap an open :class:`~vecvault.engine.VaultCore`; use :meth:`Vault.open` to open a vault."""
        self._core = core

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
        core = VaultCore.open(
            location,
            key=key,
            file_encryption=file_encryption,
            create=create,
            driver=driver,
            auth_token=auth_token,
            sync_url=sync_url,
            tracer=tracer,
        )
        if core.keys.keyset.has_live_legacy_keys():
            from vecvault.lifecycle import upgrade_legacy_keys

            # Re-seal into field format v2 (binds each write's fields together). A record that does not
            # open (`vecvault verify` names it), or a busy or read-only vault, stops the upgrade: the vault
            # stays readable, its legacy keys still open their v1 fields, and the next open resumes.
            with contextlib.suppress(IntegrityError, StorageError):
                upgrade_legacy_keys(core)
        return cls(core)

    # -- properties --------------------------------------------------------------------------------------

    @property
    def vault_id(self) -> str:
        """The vault's random id (hex): bound into every sealed field."""
        return self._core.keys.vault_id.hex()

    @property
    def location(self) -> str:
        """The file path or server URL."""
        return self._core.storage.location

    @property
    def file_encrypted(self) -> bool:
        """Whether libSQL page encryption is on for this file."""
        return self._core.storage.file_encrypted

    @property
    def remote(self) -> bool:
        """Whether the vault lives on a libSQL server."""
        return self._core.storage.remote

    @property
    def read_only(self) -> bool:
        """Whether the vault was opened read-only because this process cannot write its file (see :meth:`open`)."""
        return self._core.storage.read_only

    @property
    def key_description(self) -> str:
        """Where the master key comes from (never the key)."""
        return self._core.key_provider.description

    def exposure(self) -> list[str]:
        """Plain-language lines: what the server (or whoever holds the file) can see without the master key."""
        from vecvault.ops.exposure import describe_exposure
        from vecvault.storage import display_location

        shapes = self.collection_info()
        storage = self._core.storage
        return describe_exposure(
            location=display_location(storage.location),
            remote=storage.remote,
            replica=storage.replica,
            file_encrypted=storage.file_encrypted,
            collections=shapes,
            namespaces=self.kv_info(),
        )

    @property
    def core(self) -> VaultCore:
        """The vault's engine (storage, keys, lock): the seam vecvault's own operations use; not for apps."""
        return self._core

    def __repr__(self) -> str:
        from vecvault.storage import display_location

        location = display_location(self.location)
        return f"Vault({location!r}, vault_id={self.vault_id!r}, file_encrypted={self.file_encrypted})"

    # -- collections -------------------------------------------------------------------------------------

    def collection(
        self,
        name: str,
        dim: int | None = None,
        metric: str | None = None,
        *,
        vectors: str | None = None,
        model: str | None = None,
        create: bool = True,
        allow_plaintext_vectors: bool = False,
        native_index: bool = False,
        index: str | None = None,
    ) -> Collection:
        """Return a collection, creating it on first use.

        An existing collection opens as it was created: its dimension, metric, vector mode, model and index
        mode are stored with it, so ``vault.collection(name)`` needs no other argument. An explicit
        dimension, metric, vector mode or model that differs from the stored one raises; an explicit index
        mode switches this process only (the stored one stays for the next open).

        Args:
            name: the collection's name (stored in plaintext).
            dim: the vector dimension. ``None`` takes it from an existing collection, or from the first
                vectors added to a new one.
            metric: ``"cosine"`` (default for a new collection), ``"dot"`` or ``"euclidean"``.
            vectors: ``"sealed"`` (default for a new collection): vectors exist only as sealed fields.
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
            index: ``"exact"`` (default for a new collection): exact search. ``"hnsw"``: an approximate
                HNSW graph (needs hnswlib), built lazily on the first search and kept sealed in the vault;
                hits are still scored exactly. ``"auto"``: exact below ``vecvault.vault.AUTO_HNSW_MIN``
                records, HNSW above. Stored when the collection is created (``None`` reopens with it);
                another value on an existing collection applies to this process only. Sealed vectors only.

        Raises:
            ConfigurationError: the collection exists with another dimension, metric or model.
        """
        self._core.check_open()
        if not isinstance(name, str) or not name or "\x00" in name:
            raise ConfigurationError("A collection name must be a non-empty string without NUL characters.")
        if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0):
            raise ConfigurationError(f"dim must be a positive int, not {dim!r}.")
        core = self._core
        with core.lock:
            row = core.storage.collection(name)
            if row is None and core.storage.kv_namespace_exists(name):
                raise ConfigurationError(
                    f"{name!r} is a key-value namespace of this vault (vault.kv); a collection needs a name no "
                    f"namespace uses (e.g. {name + '_vectors'!r})."
                )
            if row is None and not create:
                raise ConfigurationError(f"No collection named {name!r}; existing: {self.collections()}.")
            # What is not given is what the collection was created with (a new one: the defaults).
            metric = normalize_metric(metric) if metric is not None else (row.metric if row else "cosine")
            vectors = vectors if vectors is not None else (row.vectors if row else "sealed")
            if index is None:
                index = (stored_index_mode(row) if row else None) or "exact"
            if vectors not in VECTOR_MODES:
                raise ConfigurationError(f"Unknown vector mode {vectors!r}. Expected one of {list(VECTOR_MODES)}.")
            if vectors == "plain":
                self._check_plain_allowed(name, metric, allow_plaintext_vectors)
            elif native_index:
                raise ConfigurationError("native_index needs vectors='plain' (libSQL indexes only unsealed vectors).")
            if index not in INDEX_MODES:
                raise ConfigurationError(f"Unknown index {index!r}. Expected one of {list(INDEX_MODES)}.")
            if index != "exact" and vectors == "plain":
                raise ConfigurationError("index='hnsw'/'auto' needs sealed vectors; plain mode ranks inside libSQL.")
            if row is not None:
                check_same_config(row, dim=dim, metric=metric, vectors=vectors, model=model)
            pending = (dim, metric, vectors, model)
            col = core.collections.get(name)
            if not isinstance(col, Collection):
                col = Collection(self, name, row, pending=pending, native_index=native_index)
                core.collections[name] = col
            col.configure(row, pending=pending, native_index=native_index, index_mode=index)
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
        with self._core.lock:
            self._core.check_open()
            return [row.name for row in self._core.storage.collections()]

    def collection_info(self) -> list[CollectionInfo]:
        """Configuration, record count and stored snapshot (its revision and size) of every collection."""
        with self._core.lock:
            self._core.check_open()
            storage = self._core.storage
            out = []
            for r in storage.collections():
                snapshot_rev, snapshot_bytes = storage.snapshot_summary(r.name)
                out.append(
                    CollectionInfo(
                        r.name, r.dim, r.metric, r.vectors, r.model, storage.count(r.name), snapshot_rev, snapshot_bytes
                    )
                )
            return out

    def drop_collection(self, name: str) -> bool:
        """Delete a collection and every record in it, and destroy its data keys; return whether it existed.

        Destroying the keys (crypto-shredding) makes the collection's records unrecoverable from any
        backup of this file too, once the backup's copy of the key table is gone as well.
        """
        return self._core.drop_collection(name)

    # -- key-value namespaces (vecvault.kv) ----------------------------------------------------------

    def kv(self, namespace: str) -> KeyValueStore:
        """A sealed key-value namespace of this vault (created by its first write): str keys, bytes values.

        Keys and values are both sealed under the namespace's own data keys; keys are found through a keyed
        blind index. See :class:`vecvault.kv.KeyValueStore`. The LangChain and LlamaIndex stores
        (docstores, caches, chat histories, record managers) are built on it.

        Raises:
            ConfigurationError: the name is not a non-empty string, or a collection has it.
        """
        from vecvault.kv import KeyValueStore, check_namespace

        check_namespace(namespace)
        with self._core.lock:
            self._core.check_open()
            if self._core.storage.collection(namespace) is not None:
                raise ConfigurationError(
                    f"{namespace!r} is a collection of this vault; a key-value namespace needs a name no "
                    f"collection uses (e.g. {namespace + '_kv'!r})."
                )
        return KeyValueStore(self._core, namespace)

    def kv_info(self) -> list[KvNamespaceInfo]:
        """Every key-value namespace with its entry count (names and counts are plaintext at rest)."""
        from vecvault.kv import kv_namespaces

        return kv_namespaces(self._core)

    # -- key lifecycle (implemented in vecvault.lifecycle) -----------------------------------------------

    def rotate_data_keys(
        self, collection: str | None = None, *, batch_size: int = 500, progress: ProgressCallback | None = None
    ) -> list[RotationReport]:
        """Re-seal a collection's records or a namespace's entries (or all of them) under fresh data keys; resumable.

        See :func:`vecvault.lifecycle.rotate_data_keys`.
        """
        from vecvault.lifecycle import rotate_data_keys

        return rotate_data_keys(self._core, collection, batch_size=batch_size, progress=progress)

    def shred(self, collection: str) -> int:
        """Crypto-shred a collection or key-value namespace (destroy its keys, delete its data); return its size."""
        from vecvault.lifecycle import shred

        return shred(self._core, collection)

    def shred_all(self) -> list[str]:
        """Crypto-shred every collection and key-value namespace, replace the vault-scope key; return the names."""
        from vecvault.lifecycle import shred_all

        return shred_all(self._core)

    def verify(self, *, progress: ProgressCallback | None = None) -> VerifyReport:
        """Open every sealed field of every record; return a report of failures (never raises for one)."""
        from vecvault.lifecycle import verify

        return verify(self._core, progress=progress)

    def key_info(self) -> list[KeyInfo]:
        """Every data key's id, scope, state, encryption count and record count (no key material)."""
        from vecvault.lifecycle import key_info

        return key_info(self._core)

    # -- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Checkpoint (so deleted data leaves the WAL), close the database and forget the keys."""
        self._core.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
