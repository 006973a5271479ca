"""LlamaIndex chat stores backed by vecvault: chat sessions sealed in the same encrypted vault.

Install with ``pip install 'vecvault[llama-index]'``::

    from llama_index.storage.chat_store.vecvault import VecVaultChatStore, VecVaultDBChatStore

``VecVaultChatStore`` is a ``BaseChatStore`` (``ChatMemoryBuffer``); ``VecVaultDBChatStore`` is the
``AsyncDBChatStore`` that ``llama_index.core.memory.Memory`` takes as its ``chat_store``.
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # exercised in a subprocess by the tests
    raise ImportError(
        "llama_index.storage.chat_store.vecvault needs llama-index-core, which is not installed. "
        "Install it with: pip install 'vecvault[llama-index]'"
    ) from exc

from llama_index.storage.chat_store.vecvault.base import VecVaultChatStore, VecVaultDBChatStore

__all__ = ["VecVaultChatStore", "VecVaultDBChatStore"]
