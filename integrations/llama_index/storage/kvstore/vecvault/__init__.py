"""LlamaIndex key-value store backed by vecvault: every value sealed, every key too, in one encrypted vault.

Install with ``pip install 'vecvault[llama-index]'``::

    from llama_index.storage.kvstore.vecvault import VecVaultKVStore
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # exercised in a subprocess by the tests
    raise ImportError(
        "llama_index.storage.kvstore.vecvault needs llama-index-core, which is not installed. "
        "Install it with: pip install 'vecvault[llama-index]'"
    ) from exc

from llama_index.storage.kvstore.vecvault.base import DEFAULT_PREFIX, VecVaultKVStore

__all__ = ["DEFAULT_PREFIX", "VecVaultKVStore"]
