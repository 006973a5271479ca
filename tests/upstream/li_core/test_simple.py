"""llama-index-core's SimpleVectorStore tests, ported to the vecvault LlamaIndex store.

Sources (run-llama/llama_index, ``llama-index-core/tests/vector_stores/``): ``test_simple.py`` at c5e3176,
``test_simple_doc_ids.py`` at aaa420b and ``test_simple_mmr_threshold.py`` at 2ba74cf. Assertions are
upstream's. Changes: ``SimpleVectorStore()`` is a ``VecVaultVectorStore`` on the test's vault; the
``unittest.TestCase`` methods are plain functions (pytest fixtures need them); ``VectorStoreIndex(nodes)``
gets ``storage_context=`` with the store; the MMR threshold test checks the ids only (upstream also spies on
``get_top_k_mmr_embeddings``, a SimpleVectorStore internal). Tests of SimpleVectorStore internals are marked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core import MockEmbedding, StorageContext, VectorStoreIndex
from llama_index.core.schema import NodeRelationship, QueryBundle, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    ExactMatchFilter,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from llama_index.vector_stores.vecvault import VecVaultVectorStore
from vecvault import Vault

_NODE_ID_WEIGHT_1_RANK_A = "AF3BE6C4-5F43-4D74-B075-6B0E07900DE8"
_NODE_ID_WEIGHT_2_RANK_C = "7D9CD555-846C-445C-A9DD-F8924A01411D"
_NODE_ID_WEIGHT_3_RANK_C = "452D24AB-F185-414C-A352-590B4B9EE51B"


@pytest.fixture
def simple_store(vault: Vault) -> Callable[[], VecVaultVectorStore]:
    """``SimpleVectorStore()``: a fresh collection of the test's vault at each call."""
    count = iter(range(1000))
    return lambda: VecVaultVectorStore(vault=vault, collection_name=f"simple{next(count)}")


def _node_embeddings_for_test() -> list[TextNode]:
    return [
        TextNode(
            text="lorem ipsum",
            id_=_NODE_ID_WEIGHT_1_RANK_A,
            embedding=[1.0, 0.0],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="test-0")},
            metadata={"weight": 1.0, "rank": "a", "quality": ["medium", "high"], "identifier": "6FTR78Yun"},
        ),
        TextNode(
            text="lorem ipsum",
            id_=_NODE_ID_WEIGHT_2_RANK_C,
            embedding=[0.0, 1.0],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="test-1")},
            metadata={"weight": 2.0, "rank": "c", "quality": ["medium"], "identifier": "6FTR78Ygl"},
        ),
        TextNode(
            text="lorem ipsum",
            id_=_NODE_ID_WEIGHT_3_RANK_C,
            embedding=[1.0, 1.0],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="test-2")},
            metadata={"weight": 3.0, "rank": "c", "quality": ["low", "medium", "high"], "identifier": "6FTR78Ztl"},
        ),
    ]


@pytest.fixture
def store(simple_store: Callable[[], VecVaultVectorStore]) -> VecVaultVectorStore:
    simple_vector_store = simple_store()
    simple_vector_store.add(_node_embeddings_for_test())
    return simple_vector_store


def test_query_without_filters_returns_all_rows_sorted_by_similarity(store: VecVaultVectorStore) -> None:
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], similarity_top_k=3)
    result = store.query(query)
    assert result.ids is not None
    assert sorted(result.ids) == sorted([_NODE_ID_WEIGHT_1_RANK_A, _NODE_ID_WEIGHT_2_RANK_C, _NODE_ID_WEIGHT_3_RANK_C])
    assert result.ids[0] == _NODE_ID_WEIGHT_3_RANK_C


def test_query_with_filters_returns_multiple_matches(store: VecVaultVectorStore) -> None:
    filters = MetadataFilters(filters=[ExactMatchFilter(key="rank", value="c")])
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], filters=filters, similarity_top_k=3)
    result = store.query(query)
    assert result.ids == [_NODE_ID_WEIGHT_3_RANK_C, _NODE_ID_WEIGHT_2_RANK_C]


def test_query_with_filter_applies_top_k(store: VecVaultVectorStore) -> None:
    filters = MetadataFilters(filters=[ExactMatchFilter(key="rank", value="c")])
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], filters=filters, similarity_top_k=1)
    result = store.query(query)
    assert result.ids == [_NODE_ID_WEIGHT_3_RANK_C]


def test_query_with_filter_applies_node_id_filter(store: VecVaultVectorStore) -> None:
    filters = MetadataFilters(filters=[ExactMatchFilter(key="rank", value="c")])
    query = VectorStoreQuery(
        query_embedding=[1.0, 1.0], filters=filters, similarity_top_k=3, node_ids=[_NODE_ID_WEIGHT_3_RANK_C]
    )
    result = store.query(query)
    assert result.ids == [_NODE_ID_WEIGHT_3_RANK_C]


def test_query_with_exact_filters_returns_single_match(store: VecVaultVectorStore) -> None:
    filters = MetadataFilters(
        filters=[ExactMatchFilter(key="rank", value="c"), ExactMatchFilter(key="weight", value=2.0)]
    )
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], filters=filters)
    result = store.query(query)
    assert result.ids == [_NODE_ID_WEIGHT_2_RANK_C]


def test_query_with_contradictive_filter_returns_no_matches(store: VecVaultVectorStore) -> None:
    filters = MetadataFilters(
        filters=[ExactMatchFilter(key="weight", value=2), ExactMatchFilter(key="weight", value=3)]
    )
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], filters=filters)
    result = store.query(query)
    assert result.ids is not None
    assert len(result.ids) == 0


def test_query_with_filter_on_unknown_field_returns_no_matches(store: VecVaultVectorStore) -> None:
    filters = MetadataFilters(filters=[ExactMatchFilter(key="unknown_field", value="c")])
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], filters=filters)
    result = store.query(query)
    assert result.ids is not None
    assert len(result.ids) == 0


def test_delete_removes_document_from_query_results(store: VecVaultVectorStore) -> None:
    store.delete("test-1")
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], similarity_top_k=2)
    result = store.query(query)
    assert result.ids == [_NODE_ID_WEIGHT_3_RANK_C, _NODE_ID_WEIGHT_1_RANK_A]


def test_query_with_filters_with_filter_condition(store: VecVaultVectorStore) -> None:
    # test OR filter
    filters = MetadataFilters(
        filters=[ExactMatchFilter(key="rank", value="c"), ExactMatchFilter(key="weight", value=1.0)],
        condition=FilterCondition.OR,
    )
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], filters=filters, similarity_top_k=3)
    result = store.query(query)
    assert len(result.ids or []) == 3

    # test AND filter
    filters = MetadataFilters(
        filters=[ExactMatchFilter(key="rank", value="c"), ExactMatchFilter(key="weight", value=1.0)],
        condition=FilterCondition.AND,
    )
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], filters=filters, similarity_top_k=3)
    result = store.query(query)
    assert len(result.ids or []) == 0


@pytest.mark.parametrize(
    ("key", "operator", "value", "expected_count"),
    [
        ("weight", FilterOperator.EQ, 1.0, 1),
        ("weight", FilterOperator.NE, 1.0, 2),
        ("weight", FilterOperator.GT, 1.5, 2),
        ("weight", FilterOperator.GTE, 1.0, 3),
        ("weight", FilterOperator.LT, 1.1, None),  # upstream only asserts ids is not None
        ("weight", FilterOperator.LTE, 1.0, 1),
        ("rank", FilterOperator.IN, ["a", "c"], 3),
        ("rank", FilterOperator.NIN, ["c"], 1),
        ("quality", FilterOperator.CONTAINS, "high", 2),
        ("identifier", FilterOperator.TEXT_MATCH, "6FTR78Y", 2),
        ("quality", FilterOperator.ANY, ["high", "low"], 2),
        ("quality", FilterOperator.ALL, ["medium", "high"], 2),
        ("not_existed_key", FilterOperator.IS_EMPTY, None, 3),
    ],
    ids=lambda v: v.name if isinstance(v, FilterOperator) else None,
)
def test_query_with_operator_filter_returns_matches(
    store: VecVaultVectorStore, key: str, operator: FilterOperator, value: Any, expected_count: int | None
) -> None:
    """test_query_with_{equal,notequal,greaterthan,...,is_empty}_filter_returns_matches, one per operator."""
    filters = MetadataFilters(filters=[MetadataFilter(key=key, operator=operator, value=value)])
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], filters=filters, similarity_top_k=3)
    result = store.query(query)
    assert result.ids is not None
    if expected_count is not None:
        assert len(result.ids) == expected_count


def test_clear(store: VecVaultVectorStore) -> None:
    store.clear()
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], similarity_top_k=3)
    result = store.query(query)
    assert len(result.ids or []) == 0


def test_delete_nodes(store: VecVaultVectorStore) -> None:
    store.delete_nodes([_NODE_ID_WEIGHT_1_RANK_A, _NODE_ID_WEIGHT_2_RANK_C])
    query = VectorStoreQuery(query_embedding=[1.0, 1.0], similarity_top_k=3)
    result = store.query(query)
    assert result.ids == [_NODE_ID_WEIGHT_3_RANK_C]


@pytest.mark.skip(reason="from_persist_dir / from_namespaced_persist_dir load SimpleVectorStore JSON files")
def test_from_persist_dir() -> None:
    """SimpleVectorStore.from_persist_dir(persist_dir=...)."""


# -- test_simple_doc_ids.py ---------------------------------------------------------------------------------


@pytest.fixture
def document_nodes() -> list[TextNode]:
    return [
        TextNode(
            id_=f"{doc}-{chunk}",
            text=f"Document {doc}, chunk {chunk}",
            embedding=[1.0, float(chunk)],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
            metadata={"chunk": chunk},
        )
        for doc in ["a", "b"]
        for chunk in [0, 1]
    ]


@pytest.mark.parametrize(
    ("doc_ids", "expected"),
    [
        (None, {"a-0", "a-1", "b-0", "b-1"}),
        ([], set()),
        (["missing"], set()),
        (["a"], {"a-0", "a-1"}),
    ],
)
@pytest.mark.parametrize("mode", [VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR])
def test_retriever_constrains_source_documents(
    simple_store: Callable[[], VecVaultVectorStore],
    document_nodes: list[TextNode],
    doc_ids: list[str] | None,
    expected: set[str],
    mode: VectorStoreQueryMode,
) -> None:
    index = VectorStoreIndex(
        document_nodes,
        embed_model=MockEmbedding(embed_dim=2),
        storage_context=StorageContext.from_defaults(vector_store=simple_store()),
    )
    retriever = index.as_retriever(doc_ids=doc_ids, similarity_top_k=10, vector_store_query_mode=mode)

    results = retriever.retrieve(QueryBundle(query_str="test", embedding=[1.0, 0.0]))

    assert {item.node.node_id for item in results} == expected


def test_document_node_and_metadata_filters_intersect(
    simple_store: Callable[[], VecVaultVectorStore], document_nodes: list[TextNode]
) -> None:
    store = simple_store()
    store.add(document_nodes)
    store.add(
        [
            TextNode(
                id_="a-2",
                embedding=[1.0, 0.0],
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="a")},
                metadata={"chunk": 1},
            )
        ]
    )
    result = store.query(
        VectorStoreQuery(
            query_embedding=[1.0, 0.0],
            similarity_top_k=10,
            doc_ids=["a"],
            node_ids=["a-0", "a-1", "b-1"],
            filters=MetadataFilters(filters=[ExactMatchFilter(key="chunk", value=1)]),
        )
    )
    assert result.ids == ["a-1"]


@pytest.mark.skip(reason="writes SimpleVectorStore.data.embedding_dict / text_id_to_ref_doc_id directly")
def test_document_filter_handles_missing_source_mapping() -> None:
    """Nodes without a source document."""


@pytest.mark.skip(reason="SVM / linear / logistic regression query modes: vecvault has default, mmr, text and hybrid")
def test_document_filter_with_no_candidates_in_learner_modes() -> None:
    """Learner modes with doc_ids=[]."""


# -- test_simple_mmr_threshold.py ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query_threshold", "kwargs", "expected_threshold", "expected_ids"),
    [
        (0.0, {}, 0.0, ["a", "c"]),
        (0.25, {}, 0.25, ["a", "c"]),
        (1.0, {}, 1.0, ["a", "b"]),
        (None, {}, None, ["a", "b"]),
        (None, {"mmr_threshold": 0.0}, 0.0, ["a", "c"]),
        (None, {"mmr_threshold": 1.0}, 1.0, ["a", "b"]),
        (1.0, {"mmr_threshold": 0.0}, 0.0, ["a", "c"]),
        (0.0, {"mmr_threshold": 1.0}, 1.0, ["a", "b"]),
        (0.0, {"mmr_threshold": None}, None, ["a", "b"]),
    ],
)
def test_mmr_threshold_sources(
    simple_store: Callable[[], VecVaultVectorStore],
    query_threshold: float | None,
    kwargs: dict[str, Any],
    expected_threshold: float | None,
    expected_ids: list[str],
) -> None:
    store = simple_store()
    store.add(
        [
            TextNode(id_="a", embedding=[1.0, 0.0]),
            TextNode(id_="b", embedding=[1.0, 0.0]),
            TextNode(id_="c", embedding=[0.0, 1.0]),
        ]
    )
    # Upstream also spies on get_top_k_mmr_embeddings for expected_threshold: a SimpleVectorStore internal.
    result = store.query(
        VectorStoreQuery(
            query_embedding=[1.0, 0.0], similarity_top_k=2, mode=VectorStoreQueryMode.MMR, mmr_threshold=query_threshold
        ),
        **kwargs,
    )

    assert result.ids == expected_ids
