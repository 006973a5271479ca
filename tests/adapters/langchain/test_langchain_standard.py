"""LangChain's own conformance suite (langchain_tests), unmodified, sync and async, over real vault files."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_vecvault import VecVaultVectorStore
from vecvault import Vault


class TestVecVaultStoreOwnsFile(VectorStoreIntegrationTests):
    """The store opens (and closes) its own encrypted vault file."""

    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Generator[VectorStore, None, None]:  # type: ignore[override]
        store = VecVaultVectorStore(
            embedding=self.get_embeddings(),
            path=tmp_path / "standard.db",
            key=os.urandom(32),
            collection_name="standard",
        )
        try:
            yield store
        finally:
            store.close()

    @property
    def has_get_by_ids(self) -> bool:
        return True


class TestVecVaultStoreOverUserVault(VectorStoreIntegrationTests):
    """The store borrows a vault the caller opened (no file encryption, euclidean metric)."""

    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Generator[VectorStore, None, None]:  # type: ignore[override]
        vault = Vault.open(tmp_path / "borrowed.db", key=os.urandom(32), file_encryption=False)
        try:
            yield VecVaultVectorStore(embedding=self.get_embeddings(), vault=vault, metric="euclidean")
        finally:
            vault.close()

    @property
    def has_get_by_ids(self) -> bool:
        return True
