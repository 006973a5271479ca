"""all-MiniLM-L6-v2 as a LangChain :class:`~langchain_core.embeddings.Embeddings`.

Example::

    from vecvault_examples.langchain_embeddings import MiniLMEmbeddings
    embeddings = MiniLMEmbeddings()
    store = VecVaultVectorStore(embedding=embeddings, ...)

The async methods come from the base class, which runs the sync ones in an executor, so the event loop
never blocks on the model.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from vecvault_examples.embeddings import DEFAULT_BATCH_SIZE, embed

__all__ = ["MiniLMEmbeddings"]


class MiniLMEmbeddings(Embeddings):
    """Unit-length 384-d sentence embeddings from the offline all-MiniLM-L6-v2 model.

    Args:
        batch_size: texts per forward pass.
    """

    def __init__(self, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"MiniLMEmbeddings(batch_size={self.batch_size})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents; one list of 384 floats per text."""
        return embed(texts, batch_size=self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a query (the model is symmetric: same as a document)."""
        return embed([text], batch_size=self.batch_size)[0].tolist()
