"""LangChain integration for vecvault: an encrypted, local-first ``VectorStore`` on libSQL.

Install it with ``pip install 'vecvault[langchain]'``, then::

    from langchain_vecvault import VecVaultVectorStore

    store = VecVaultVectorStore(embedding=embeddings, path="notes.db", collection_name="notes")

Text, metadata and embeddings are sealed with AES-256-GCM before they reach the database; see
:class:`~langchain_vecvault.vectorstores.VecVaultVectorStore`. What an application keeps beside the
vector store lives in the same vault, sealed too: ``VecVaultByteStore`` (parent-document stores, embedding
caches), ``VecVaultChatMessageHistory`` and ``VecVaultRecordManager`` (the indexing API).
"""

from __future__ import annotations

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "langchain_vecvault needs langchain-core, which is not installed. "
        "Install it with: pip install 'vecvault[langchain]'"
    ) from exc

from langchain_vecvault.chat_history import VecVaultChatMessageHistory
from langchain_vecvault.record_manager import VecVaultRecordManager
from langchain_vecvault.stores import VecVaultByteStore
from langchain_vecvault.translator import VecVaultTranslator
from langchain_vecvault.vectorstores import DEFAULT_BATCH_SIZE, DEFAULT_COLLECTION_NAME, VecVaultVectorStore

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_COLLECTION_NAME",
    "VecVaultByteStore",
    "VecVaultChatMessageHistory",
    "VecVaultRecordManager",
    "VecVaultTranslator",
    "VecVaultVectorStore",
]
