"""Fixtures for the LangChain adapter tests: real vault files in tmp_path, closed at teardown."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from langchain_vecvault import VecVaultVectorStore

StoreFactory = Callable[..., VecVaultVectorStore]


@pytest.fixture
def lc_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def fake_embeddings() -> Embeddings:
    return DeterministicFakeEmbedding(size=8)


@pytest.fixture
def make_store(tmp_path: Path, lc_key: bytes, fake_embeddings: Embeddings) -> Iterator[StoreFactory]:
    """Open stores over vault files in tmp_path (default: one file, one key); every store is closed after."""
    opened: list[VecVaultVectorStore] = []

    def _make(**kwargs: Any) -> VecVaultVectorStore:
        kwargs.setdefault("embedding", fake_embeddings)
        if "vault" not in kwargs:
            kwargs.setdefault("path", tmp_path / "langchain.db")
            kwargs.setdefault("key", lc_key)
        store = VecVaultVectorStore(**kwargs)
        opened.append(store)
        return store

    try:
        yield _make
    finally:
        for store in opened:
            store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> VecVaultVectorStore:
    return make_store()
