"""LlamaIndex document store backed by vecvault: sealed in the same encrypted vault as the vectors.

Install with ``pip install 'vecvault[llama-index]'``::

    from llama_index.storage.docstore.vecvault import VecVaultDocumentStore
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # exercised in a subprocess by the tests
    raise ImportError(
        "llama_index.storage.docstore.vecvault needs llama-index-core, which is not installed. "
        "Install it with: pip install 'vecvault[llama-index]'"
    ) from exc

from llama_index.storage.docstore.vecvault.base import VecVaultDocumentStore

__all__ = ["VecVaultDocumentStore"]
