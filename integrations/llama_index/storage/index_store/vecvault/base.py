"""``VecVaultIndexStore``: LlamaIndex's ``KVIndexStore`` over a :class:`VecVaultKVStore`.

The Redis and Mongo integrations' pattern: index structures (which node belongs to which index) are
stored by llama-index-core's own ``KVIndexStore``, sealed in the vault through the key-value store.
"""

from __future__ import annotations

import os
from typing import Any

from llama_index.core.storage.index_store.keyval_index_store import KVIndexStore

from llama_index.storage.kvstore.vecvault import VecVaultKVStore
from vecvault import Vault
from vecvault.keys.base import KeyProvider

__all__ = ["VecVaultIndexStore"]


class VecVaultIndexStore(KVIndexStore):
    """LlamaIndex index store sealed in a vecvault vault.

    ```python
    import os
    from vecvault import Vault
    from llama_index.storage.index_store.vecvault import VecVaultIndexStore

    with Vault.open("index-store-example.db", key=os.urandom(32)) as vault:
        index_store = VecVaultIndexStore.from_vault(vault)
        assert index_store.index_structs() == []
    ```
    """

    def __init__(self, vecvault_kvstore: VecVaultKVStore, namespace: str | None = None) -> None:
        """Wrap a :class:`VecVaultKVStore` (``namespace`` as in ``KVIndexStore``, default ``"index_store"``)."""
        super().__init__(vecvault_kvstore, namespace=namespace)
        self._vecvault_kvstore = vecvault_kvstore

    @classmethod
    def from_vault(cls, vault: Vault, namespace: str | None = None) -> VecVaultIndexStore:
        """An index store in an open vault (never closed by the store)."""
        return cls(VecVaultKVStore(vault=vault), namespace=namespace)

    @classmethod
    def from_params(
        cls,
        path: str | os.PathLike[str],
        key: KeyProvider | bytes | None = None,
        namespace: str | None = None,
        **open_options: Any,
    ) -> VecVaultIndexStore:
        """Open (or create) a vault at ``path``; :meth:`close` closes it."""
        return cls(VecVaultKVStore.from_params(path, key, **open_options), namespace=namespace)

    @property
    def kvstore(self) -> VecVaultKVStore:
        """The sealed key-value store underneath."""
        return self._vecvault_kvstore

    def close(self) -> None:
        """Close the vault if :meth:`from_params` opened it."""
        self._vecvault_kvstore.close()

    def __enter__(self) -> VecVaultIndexStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
