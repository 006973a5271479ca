"""Fixtures for the LlamaIndex adapter tests: a random key, a vault file in tmp_path and an empty store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_index.vector_stores.vecvault import VecVaultVectorStore
from vecvault import Vault


@pytest.fixture
def li_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def li_path(tmp_path: Path) -> Path:
    return tmp_path / "llama.db"


@pytest.fixture
def li_vault(li_path: Path, li_key: bytes) -> Iterator[Vault]:
    vault = Vault.open(li_path, key=li_key)
    try:
        yield vault
    finally:
        vault.close()


@pytest.fixture
def li_store(li_vault: Vault) -> Iterator[VecVaultVectorStore]:
    store = VecVaultVectorStore(vault=li_vault, collection_name="llama_index")
    try:
        yield store
    finally:
        store.close()
