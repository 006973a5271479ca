"""``VecVaultKVStore``: LlamaIndex's ``BaseKVStore`` on the sealed key-value namespaces of a vault.

Each LlamaIndex collection (``"docstore/data"``, ``"index_store/data"``, an ingestion cache's
``"llama_cache"``...) is one key-value namespace of the vault, named ``prefix + collection``. Values are
LlamaIndex's JSON dicts, sealed; keys (node ids, document hashes, cache keys) are sealed too and found by
a keyed blind index (:mod:`vecvault.kv`). ``docstore.json`` and ``index_store.json`` never exist.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from llama_index.core.storage.kvstore.types import DEFAULT_BATCH_SIZE, DEFAULT_COLLECTION, BaseKVStore

from vecvault import ConfigurationError, IntegrityError, Vault
from vecvault.integration import VaultOwner, dump_json, load_json, open_or_use
from vecvault.keys.base import KeyProvider
from vecvault.kv import KeyValueStore, check_keys

__all__ = ["DEFAULT_PREFIX", "VecVaultKVStore"]

DEFAULT_PREFIX = "llama_index/"


class VecVaultKVStore(VaultOwner, BaseKVStore):
    """LlamaIndex ``BaseKVStore`` whose keys and values are sealed in a vecvault vault.

    ```python
    import os
    from vecvault import Vault
    from llama_index.storage.kvstore.vecvault import VecVaultKVStore

    with Vault.open("kvstore-example.db", key=os.urandom(32)) as vault:
        kvstore = VecVaultKVStore(vault=vault)
        kvstore.put("node-1", {"text": "private"}, collection="docstore/data")
        assert kvstore.get("node-1", collection="docstore/data") == {"text": "private"}
    ```

    ``VecVaultKVStore.from_params(path=..., key=...)`` opens (and owns: ``close()``) a vault instead.
    Thread-safe; another process's writes are seen by the next call. Async methods run in a worker thread.
    """

    def __init__(self, *, vault: Vault, prefix: str = DEFAULT_PREFIX) -> None:
        """Use an open vault (never closed by this store).

        Args:
            vault: an open :class:`vecvault.Vault`.
            prefix: prepended to each LlamaIndex collection to name its key-value namespace.

        Raises:
            ConfigurationError: ``vault`` is not an open Vault, or ``prefix`` is not a str.
        """
        if not isinstance(prefix, str):
            raise ConfigurationError(f"prefix must be a str, not {type(prefix).__name__}.")
        self._vault, self._owns_vault = open_or_use("VecVaultKVStore", vault=vault, path=None, key=None)
        self._prefix = prefix
        self._stores: dict[str, KeyValueStore] = {}

    @classmethod
    def from_params(
        cls,
        path: str | os.PathLike[str],
        key: KeyProvider | bytes | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
        file_encryption: bool | None = None,
        **open_options: Any,
    ) -> VecVaultKVStore:
        """Open (or create) a vault at ``path``; the store owns it and :meth:`close` closes it.

        Args:
            path: a file path, ``":memory:"`` or a libSQL URL.
            key: the master key provider (default ``VECVAULT_KEY``, else the OS keychain) or 32 bytes.
            prefix: as in the constructor.
            file_encryption: libSQL page encryption (``None``: on for a new local file).
            **open_options: more options of :meth:`vecvault.Vault.open`.
        """
        vault, _ = open_or_use(
            "VecVaultKVStore",
            vault=None,
            path=path,
            key=key,
            file_encryption=file_encryption,
            open_options=open_options,
        )
        try:
            store = cls(vault=vault, prefix=prefix)
        except BaseException:
            vault.close()
            raise
        store._owns_vault = True
        return store

    def __repr__(self) -> str:
        return f"VecVaultKVStore(vault_id={self._vault.vault_id!r}, prefix={self._prefix!r})"

    def _store(self, collection: str) -> KeyValueStore:
        store = self._stores.get(collection)
        if store is None:
            if not isinstance(collection, str) or not collection:
                raise ConfigurationError(f"collection must be a non-empty str, not {collection!r}.")
            store = self._stores[collection] = self._vault.kv(self._prefix + collection)
        return store

    @staticmethod
    def _value(val: object) -> bytes:
        if not isinstance(val, dict):
            raise ConfigurationError(f"A LlamaIndex key-value store holds dicts, not {type(val).__name__}.")
        return dump_json(val)

    @staticmethod
    def _dict(raw: bytes) -> dict[str, Any]:
        value = load_json(raw, "LlamaIndex value")
        if not isinstance(value, dict):
            raise IntegrityError("A stored LlamaIndex value is not a dict; run `vecvault verify`.")
        return value

    # -- sync --------------------------------------------------------------------------------------------

    def put(self, key: str, val: dict[str, Any], collection: str = DEFAULT_COLLECTION) -> None:
        """Store a dict under a key (replacing what was there)."""
        self.put_all([(key, val)], collection=collection)

    def put_all(
        self,
        kv_pairs: list[tuple[str, dict[str, Any]]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Store many pairs, ``batch_size`` per transaction (at least one transaction of all if it is 1).

        Raises:
            ConfigurationError: a key is not a str or a value not a JSON-compatible dict (nothing of that
                batch is stored).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive int, not {batch_size!r}.")
        pairs = [(key, self._value(val)) for key, val in kv_pairs]
        check_keys([key for key, _ in pairs])
        store = self._store(collection)
        size = len(pairs) if batch_size == 1 else batch_size  # LlamaIndex's default of 1 means "no batching"
        for start in range(0, len(pairs), max(size, 1)):
            store.set(pairs[start : start + size])

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict[str, Any] | None:
        """The dict stored under a key, or None."""
        (raw,) = self._store(collection).get([key])
        return None if raw is None else self._dict(raw)

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict[str, Any]]:
        """Every key and dict of a collection (opens every entry)."""
        return {key: self._dict(raw) for key, raw in self._store(collection).items()}

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Delete a key; return whether it existed (its ciphertext leaves the files)."""
        return self._store(collection).delete([key]) > 0

    # -- async -------------------------------------------------------------------------------------------

    async def aput(self, key: str, val: dict[str, Any], collection: str = DEFAULT_COLLECTION) -> None:
        """Async :meth:`put` (in a worker thread)."""
        await asyncio.to_thread(self.put, key, val, collection)

    async def aput_all(
        self,
        kv_pairs: list[tuple[str, dict[str, Any]]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Async :meth:`put_all` (in a worker thread)."""
        await asyncio.to_thread(self.put_all, kv_pairs, collection, batch_size)

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict[str, Any] | None:
        """Async :meth:`get` (in a worker thread)."""
        return await asyncio.to_thread(self.get, key, collection)

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict[str, Any]]:
        """Async :meth:`get_all` (in a worker thread)."""
        return await asyncio.to_thread(self.get_all, collection)

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Async :meth:`delete` (in a worker thread)."""
        return await asyncio.to_thread(self.delete, key, collection)
