"""VecVaultVectorStore passes the LlamaIndex vector store conformance suite, sync and async."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.adapters.llama_index_adapter.conformance import BasePydanticVectorStoreConformance

from llama_index.vector_stores.vecvault import VecVaultVectorStore
from vecvault import Vault


class TestVecVaultConformance(BasePydanticVectorStoreConformance):
    @pytest.fixture
    def store(self, li_vault: Vault) -> Iterator[VecVaultVectorStore]:
        store = VecVaultVectorStore(vault=li_vault, collection_name="conformance")
        try:
            yield store
        finally:
            store.close()


class TestVecVaultConformanceDotMetric(BasePydanticVectorStoreConformance):
    """Same suite with the dot metric and an explicit dimension (relevance still in [0, 1])."""

    @pytest.fixture
    def store(self, li_vault: Vault) -> Iterator[VecVaultVectorStore]:
        store = VecVaultVectorStore(vault=li_vault, collection_name="dot", dim=4, metric="dot")
        try:
            yield store
        finally:
            store.close()
