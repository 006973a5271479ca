"""``VecVaultByteStore``: LangChain's ``BaseStore[str, bytes]`` on a sealed key-value namespace of a vault.

It is what LangChain keeps beside a vector store, sealed under the same keys: the parent documents of
``ParentDocumentRetriever`` / ``MultiVectorRetriever`` (through ``create_kv_docstore``) and the embedding
cache of ``CacheBackedEmbeddings.from_bytes_store``. Keys and values are both sealed
(:mod:`vecvault.kv`); an unkeyed hash in a key (the embedding cache's SHA-1 of the text) no longer lets
anyone confirm a guessed text, since the key itself never reaches the file.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.runnables.config import run_in_executor
from langchain_core.stores import BaseStore

from langchain_vecvault._convert import redact_location
from vecvault import Vault
from vecvault.integration import VaultOwner
from vecvault.keys.base import KeyProvider
from vecvault.kv import KeyValueStore

__all__ = ["DEFAULT_DOCSTORE_NAMESPACE", "VaultOwner", "VecVaultByteStore"]

DEFAULT_DOCSTORE_NAMESPACE = "docstore"


class VecVaultByteStore(VaultOwner, BaseStore[str, bytes]):
    """LangChain ``BaseStore[str, bytes]`` whose keys and values are sealed in a vecvault vault.

    Setup:
        ```bash
        pip install -qU 'vecvault[langchain]'
        ```

    Instantiate:
        ```python
        import os
        from langchain_vecvault import VecVaultByteStore

        store = VecVaultByteStore(path="bytestore-example.db", key=os.urandom(32), namespace="docstore")
        ```

    Use:
        ```python
        store.mset([("doc:1", b"private text"), ("doc:2", b"more")])
        assert store.mget(["doc:1", "nope"]) == [b"private text", None]
        assert sorted(store.yield_keys(prefix="doc:")) == ["doc:1", "doc:2"]
        store.mdelete(["doc:2"])
        store.close()
        ```

    As a docstore or an embedding cache:
        ``create_kv_docstore(store)`` gives ``ParentDocumentRetriever`` / ``MultiVectorRetriever`` their
        document store; ``CacheBackedEmbeddings.from_bytes_store(embeddings, store, namespace=model_name)``
        caches embeddings (sealed, under sealed keys).

    Async:
        ``amget``, ``amset``, ``amdelete`` and ``ayield_keys`` run the vault calls in a worker thread.
    """

    def __init__(
        self,
        *,
        vault: Vault | None = None,
        path: str | os.PathLike[str] | None = None,
        key: KeyProvider | bytes | None = None,
        namespace: str = DEFAULT_DOCSTORE_NAMESPACE,
        file_encryption: bool | None = None,
        **open_options: Any,
    ) -> None:
        """Bind the store to one key-value namespace of a vault.

        Args:
            vault: an open :class:`vecvault.Vault`; the store uses it and never closes it.
            path: open a vault here instead; the store owns it and ``close()`` closes it.
            key: the master key for ``path`` (a ``KeyProvider`` or 32 bytes; default ``VECVAULT_KEY``,
                else the OS keychain).
            namespace: the key-value namespace (plaintext; not a collection's name).
            file_encryption: libSQL page encryption for ``path`` (``None``: on for a new file).
            **open_options: more options of ``Vault.open`` for ``path``.

        Raises:
            ConfigurationError: both or neither of ``vault`` and ``path``, a bad namespace (or a
                collection's name), an unknown option.
        """
        self._attach("VecVaultByteStore", vault, path, key, file_encryption, open_options)
        try:
            self._store: KeyValueStore = self._vault.kv(namespace)
        except BaseException:
            self.close()
            raise

    @property
    def namespace(self) -> str:
        """The key-value namespace inside the vault."""
        return self._store.namespace

    def __repr__(self) -> str:
        return f"VecVaultByteStore({redact_location(self._vault.location)!r}, namespace={self.namespace!r})"

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        """The value of each key, None where absent."""
        return self._store.get(keys)

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        """Store the pairs in one transaction (all or none).

        Raises:
            ConfigurationError: a key is not a str or a value not bytes (nothing is stored).
        """
        self._store.set(key_value_pairs)

    def mdelete(self, keys: Sequence[str]) -> None:
        """Delete the keys (missing keys are ignored); their ciphertext leaves the files."""
        self._store.delete(keys)

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        """Every key, or those starting with ``prefix``: opens every sealed key and filters in memory."""
        yield from self._store.keys(prefix)

    async def amget(self, keys: Sequence[str]) -> list[bytes | None]:
        """Async :meth:`mget` (in a worker thread)."""
        return await run_in_executor(None, self.mget, keys)

    async def amset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        """Async :meth:`mset` (in a worker thread)."""
        await run_in_executor(None, self.mset, key_value_pairs)

    async def amdelete(self, keys: Sequence[str]) -> None:
        """Async :meth:`mdelete` (in a worker thread)."""
        await run_in_executor(None, self.mdelete, keys)

    async def ayield_keys(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        """Async :meth:`yield_keys`: the keys are collected in a worker thread, then yielded."""
        keys = await run_in_executor(None, lambda: list(self._store.keys(prefix)))
        for key in keys:
            yield key
