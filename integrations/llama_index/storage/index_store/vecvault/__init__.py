"""LlamaIndex index store backed by vecvault: sealed in the same encrypted vault as the vectors.

Install with ``pip install 'vecvault[llama-index]'``::

    from llama_index.storage.index_store.vecvault import VecVaultIndexStore
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # exercised in a subprocess by the tests
    raise ImportError(
        "llama_index.storage.index_store.vecvault needs llama-index-core, which is not installed. "
        "Install it with: pip install 'vecvault[llama-index]'"
    ) from exc

from llama_index.storage.index_store.vecvault.base import VecVaultIndexStore

__all__ = ["VecVaultIndexStore"]
