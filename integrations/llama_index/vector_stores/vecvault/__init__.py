"""LlamaIndex vector store backed by vecvault, an encrypted, local-first vector store on libSQL.

Install with ``pip install 'vecvault[llama-index]'``::

    from llama_index.vector_stores.vecvault import VecVaultVectorStore
"""

from llama_index.vector_stores.vecvault.base import VecVaultVectorStore
from llama_index.vector_stores.vecvault.filters import to_vecvault_filter

__all__ = ["VecVaultVectorStore", "to_vecvault_filter"]
