"""Fake embeddings of the upstream suites, as they wrote them.

``FakeEmbeddings`` is langchain-postgres' and langchain-chroma's ``tests/.../fake_embeddings.py`` ("Copied
from community"): every text is nine ones followed by its index in the batch; the query is nine ones and
a zero. ``ConsistentFakeEmbeddings`` is langchain-chroma's: a text keeps the index it was first seen at.
``FakeEmbeddingsWithAdaDimension`` is langchain-postgres' 1536-dimensional variant.
"""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

fake_texts = ["foo", "bar", "baz"]
ADA_TOKEN_COUNT = 1536


class FakeEmbeddings(Embeddings):
    """Fake embeddings functionality for testing."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return simple embeddings: each text as its index."""
        return [[1.0] * 9 + [float(i)] for i in range(len(texts))]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Identical to embed_documents(texts)[0]: a text's distance is its index."""
        return [1.0] * 9 + [0.0]

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


class ConsistentFakeEmbeddings(FakeEmbeddings):
    """Fake embeddings which remember all the texts seen so far to return consistent vectors for the same texts."""

    def __init__(self, dimensionality: int = 10) -> None:
        self.known_texts: list[str] = []
        self.dimensionality = dimensionality

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return consistent embeddings for each text seen so far."""
        out_vectors = []
        for text in texts:
            if text not in self.known_texts:
                self.known_texts.append(text)
            vector = [1.0] * (self.dimensionality - 1) + [float(self.known_texts.index(text))]
            out_vectors.append(vector)
        return out_vectors

    def embed_query(self, text: str) -> list[float]:
        """Return consistent embeddings for the text, if seen before, or a constant one if the text is unknown."""
        return self.embed_documents([text])[0]


class FakeEmbeddingsWithAdaDimension(FakeEmbeddings):
    """Fake embeddings functionality for testing."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return simple embeddings."""
        return [[1.0] * (ADA_TOKEN_COUNT - 1) + [float(i)] for i in range(len(texts))]

    def embed_query(self, text: str) -> list[float]:
        """Return simple embeddings."""
        return [1.0] * (ADA_TOKEN_COUNT - 1) + [0.0]
