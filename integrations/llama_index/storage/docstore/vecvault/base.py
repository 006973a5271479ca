"""``VecVaultDocumentStore``: LlamaIndex's ``KVDocumentStore`` over a :class:`VecVaultKVStore`.

The Redis and Mongo integrations' pattern: the document store logic is llama-index-core's own
``KVDocumentStore``; only the key-value store underneath is vecvault's, so node texts, metadata, document
hashes and ref-doc info are all sealed (keys included) in the vault that holds the vectors.
"""

from __future__ import annotations

import os
from typing import Any

from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
from llama_index.core.storage.kvstore.types import DEFAULT_BATCH_SIZE

from llama_index.storage.kvstore.vecvault import VecVaultKVStore
from vecvault import Vault
from vecvault.keys.base import KeyProvider

__all__ = ["VecVaultDocumentStore"]


class VecVaultDocumentStore(KVDocumentStore):
    """LlamaIndex document store sealed in a vecvault vault.

    ```python
    import os
    from llama_index.core import Document
    from vecvault import Vault
    from llama_index.storage.docstore.vecvault import VecVaultDocumentStore

    with Vault.open("docstore-example.db", key=os.urandom(32)) as vault:
        docstore = VecVaultDocumentStore.from_vault(vault)
        docstore.add_documents([Document(text="private", id_="doc-1")])
        assert docstore.get_document("doc-1").text == "private"
    ```

    ``StorageContext.from_defaults(docstore=..., index_store=VecVaultIndexStore.from_vault(vault),
    vector_store=VecVaultVectorStore(vault=vault))`` keeps an index whole in one vault.
    """

    def __init__(
        self,
        vecvault_kvstore: VecVaultKVStore,
        namespace: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Wrap a :class:`VecVaultKVStore` (``namespace`` as in ``KVDocumentStore``, default ``"docstore"``)."""
        super().__init__(vecvault_kvstore, namespace=namespace, batch_size=batch_size)
        self._vecvault_kvstore = vecvault_kvstore

    @classmethod
    def from_vault(cls, vault: Vault, namespace: str | None = None) -> VecVaultDocumentStore:
        """A document store in an open vault (never closed by the store)."""
        return cls(VecVaultKVStore(vault=vault), namespace=namespace)

    @classmethod
    def from_params(
        cls,
        path: str | os.PathLike[str],
        key: KeyProvider | bytes | None = None,
        namespace: str | None = None,
        **open_options: Any,
    ) -> VecVaultDocumentStore:
        """Open (or create) a vault at ``path``; :meth:`close` closes it."""
        return cls(VecVaultKVStore.from_params(path, key, **open_options), namespace=namespace)

    @property
    def kvstore(self) -> VecVaultKVStore:
        """The sealed key-value store underneath."""
        return self._vecvault_kvstore

    def close(self) -> None:
        """Close the vault if :meth:`from_params` opened it."""
        self._vecvault_kvstore.close()

    def __enter__(self) -> VecVaultDocumentStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
