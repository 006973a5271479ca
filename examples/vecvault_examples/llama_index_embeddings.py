"""all-MiniLM-L6-v2 as a LlamaIndex :class:`~llama_index.core.base.embeddings.base.BaseEmbedding`.

Example::

    from llama_index.core import Settings
    from vecvault_examples.llama_index_embeddings import MiniLMEmbedding
    Settings.embed_model = MiniLMEmbedding()

Async methods run the model in a worker thread (``asyncio.to_thread``) so the event loop never blocks.
"""

from __future__ import annotations

import asyncio

from llama_index.core.base.embeddings.base import BaseEmbedding

from vecvault_examples.embeddings import DEFAULT_BATCH_SIZE, MODEL_NAME, embed

__all__ = ["MiniLMEmbedding"]


class MiniLMEmbedding(BaseEmbedding):
    """Unit-length 384-d sentence embeddings from the offline all-MiniLM-L6-v2 model."""

    model_name: str = MODEL_NAME
    embed_batch_size: int = DEFAULT_BATCH_SIZE

    @classmethod
    def class_name(cls) -> str:
        """Name used by LlamaIndex serialisation."""
        return "MiniLMEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return embed([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return embed(texts, batch_size=self.embed_batch_size).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
