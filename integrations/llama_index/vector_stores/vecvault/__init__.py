"""LlamaIndex vector store backed by vecvault, an encrypted, local-first vector store on libSQL.

Install with ``pip install 'vecvault[llama-index]'``::

    from llama_index.vector_stores.vecvault import VecVaultVectorStore
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # exercised in a subprocess by the tests
    raise ImportError(
        "llama_index.vector_stores.vecvault needs llama-index-core, which is not installed. "
        "Install it with: pip install 'vecvault[llama-index]'"
    ) from exc

from llama_index.vector_stores.vecvault.base import VecVaultVectorStore
from llama_index.vector_stores.vecvault.filters import to_vecvault_filter

__all__ = ["VecVaultVectorStore", "to_vecvault_filter"]
