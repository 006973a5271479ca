"""The conformance suite is reusable: llama-index-core's own SimpleVectorStore runs it too, where it can."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest
from llama_index.core.vector_stores import SimpleVectorStore
from tests.adapters.llama_index_adapter.conformance import BasePydanticVectorStoreConformance


class TestSimpleVectorStoreConformance(BasePydanticVectorStoreConformance):
    supports_get_nodes: ClassVar[bool] = False  # raises NotImplementedError: it does not store nodes
    supports_doc_ids: ClassVar[bool] = False  # query() ignores VectorStoreQuery.doc_ids
    empty_node_ids_mean_all: ClassVar[bool] = False  # node_ids=[] matches no node
    supports_nested_filters: ClassVar[bool] = False  # build_metadata_filter_fn rejects nested groups
    returns_nodes: ClassVar[bool] = False  # stores_text is False: results carry ids and similarities only
    similarity_range: ClassVar[tuple[float, float] | None] = (-1.0, 1.0)  # raw cosine

    @pytest.fixture
    def store(self) -> Iterator[SimpleVectorStore]:
        store = SimpleVectorStore()
        try:
            yield store
        finally:
            store.clear()
