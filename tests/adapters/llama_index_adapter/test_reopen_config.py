"""The LlamaIndex store reopens a collection as it was created: metric and index mode come from the vault."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryResult

from llama_index.vector_stores.vecvault import VecVaultVectorStore
from vecvault import ConfigurationError, Vault

# Vectors shorter than 1, so the dot product, the cosine and the L2 distance all score differently.
TABLE = {
    "near": [0.5, 0.1, 0.0, 0.0],
    "mid": [0.3, 0.4, 0.0, 0.0],
    "far": [0.0, 0.2, 0.5, 0.0],
}
QUERY = [0.8, 0.2, 0.1, 0.0]
ORDER = ["near", "mid", "far"]


def _nodes() -> list[TextNode]:
    return [TextNode(id_=name, text=f"the {name} node", embedding=vector) for name, vector in TABLE.items()]


def _expected_similarity(metric: str, name: str) -> float:
    """LlamaIndex's similarity convention, from the table (dot: q·x; euclidean: 1 / (1 + L2); cosine: cos)."""
    q, x = np.asarray(QUERY), np.asarray(TABLE[name])
    if metric == "dot":
        value = float(q @ x)
    elif metric == "euclidean":
        value = 1.0 / (1.0 + float(np.linalg.norm(q - x)))
    else:
        value = float(q @ x / (np.linalg.norm(q) * np.linalg.norm(x)))
    return min(1.0, max(0.0, value))


def _query(store: VecVaultVectorStore, vector: list[float] = QUERY, k: int = 3) -> VectorStoreQueryResult:
    return store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=k))


@pytest.mark.parametrize("metric", ["dot", "euclidean"])
def test_a_reopen_without_metric_takes_the_stored_metric(li_path: Path, li_key: bytes, metric: str) -> None:
    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="c", metric=metric) as created:
        created.add(_nodes())

    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="c") as reopened:
        assert reopened.metric == metric  # the pydantic field reports the collection's metric
        assert reopened.collection.metric == metric
        assert reopened.to_dict()["metric"] == metric
        assert f"metric='{metric}'" in repr(reopened)
        result = _query(reopened)
        assert result.ids == ORDER
        assert result.similarities is not None
        for name, got in zip(ORDER, result.similarities, strict=True):
            assert got == pytest.approx(_expected_similarity(metric, name), abs=1e-6)
            assert got != pytest.approx(_expected_similarity("cosine", name), abs=1e-3)

    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="c", metric=metric) as explicit:
        assert explicit.metric == metric
        explicit_result = _query(explicit)
        assert explicit_result.ids == result.ids
        assert explicit_result.similarities == pytest.approx(result.similarities)


def test_the_field_round_trips_through_to_dict(li_vault: Vault) -> None:
    VecVaultVectorStore(vault=li_vault, collection_name="c", metric="dot").add(_nodes())
    store = VecVaultVectorStore(vault=li_vault, collection_name="c")
    data = store.to_dict()
    assert data["metric"] == "dot"
    again = VecVaultVectorStore.from_dict(data, vault=li_vault)
    assert again.metric == "dot"
    assert again.collection_name == "c"
    assert _query(again).ids == ORDER
    new = VecVaultVectorStore(vault=li_vault, collection_name="fresh")
    assert new.metric == "cosine"  # a new collection: the core's default
    assert VecVaultVectorStore.from_dict(new.to_dict(), vault=li_vault).metric == "cosine"


def test_an_explicit_conflicting_metric_raises(li_path: Path, li_key: bytes, li_vault: Vault) -> None:
    VecVaultVectorStore(vault=li_vault, collection_name="c", metric="dot").add(_nodes())
    for wrong in ("cosine", "euclidean", "l2"):
        with pytest.raises(ConfigurationError, match="'dot' metric"):
            VecVaultVectorStore(vault=li_vault, collection_name="c", metric=wrong)
    with pytest.raises(ConfigurationError, match="vectors"):
        VecVaultVectorStore(vault=li_vault, collection_name="c", vectors="plain")
    li_vault.close()
    with pytest.raises(ConfigurationError, match="'dot' metric"):
        VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="c", metric="cosine")
    # The failed attempt released the file: it opens again, as stored.
    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="c") as store:
        assert store.metric == "dot"


def test_a_model_is_recorded_and_checked(li_vault: Vault) -> None:
    VecVaultVectorStore(vault=li_vault, collection_name="c", model="m-1").add(_nodes())
    assert VecVaultVectorStore(vault=li_vault, collection_name="c").collection.model == "m-1"
    with pytest.raises(ConfigurationError, match="m-1"):
        VecVaultVectorStore(vault=li_vault, collection_name="c", model="m-2")


def test_the_index_mode_is_stored_and_an_explicit_one_switches_this_process_only(li_path: Path, li_key: bytes) -> None:
    pytest.importorskip("hnswlib")
    vectors = np.random.default_rng(0).standard_normal((300, 8))  # seeded: the same vectors every run
    nodes = [TextNode(id_=f"n{i}", text=f"node {i}", embedding=v.tolist()) for i, v in enumerate(vectors)]
    query = list(nodes[7].get_embedding())  # equal to a stored vector

    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="h", index="hnsw") as created:
        created.add(nodes)
        assert created.collection._graphs.mode == "hnsw"

    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="h") as reopened:
        assert reopened.collection._graphs.mode == "hnsw"  # as created: no index= needed
        hnsw_ids = _query(reopened, query, k=5).ids
        assert reopened.collection._graphs.graph is not None  # searched through the graph

    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="h", index="exact") as exact:
        assert exact.collection._graphs.mode == "exact"
        exact_ids = _query(exact, query, k=5).ids
        assert exact.collection._graphs.graph is None
    assert exact_ids is not None and exact_ids[0] == "n7"
    assert hnsw_ids == exact_ids

    with Vault.open(li_path, key=li_key) as vault:
        again = VecVaultVectorStore(vault=vault, collection_name="h")
        assert again.collection._graphs.mode == "hnsw"  # the switch was that process's only
        assert _query(again, query, k=5).ids == exact_ids
        switched = VecVaultVectorStore(vault=vault, collection_name="h", index="exact")
        assert switched.collection._graphs.mode == "exact"


def test_an_unknown_index_mode_raises(li_vault: Vault) -> None:
    with pytest.raises(ConfigurationError, match="index"):
        VecVaultVectorStore(vault=li_vault, collection_name="c", index="ivf")


def test_a_collection_created_by_the_core_opens_without_metric(li_path: Path, li_key: bytes) -> None:
    with Vault.open(li_path, key=li_key) as vault:
        vault.collection("c", dim=4, metric="dot").add(
            [f"the {n} record" for n in TABLE], list(TABLE.values()), ids=list(TABLE)
        )
        borrowed = VecVaultVectorStore(vault=vault, collection_name="c")
        assert borrowed.metric == "dot"
        assert _query(borrowed).ids == ORDER
    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="c") as store:
        assert store.metric == "dot"
        result = _query(store)
        assert result.ids == ORDER
        assert result.similarities is not None
        for name, got in zip(ORDER, result.similarities, strict=True):
            assert got == pytest.approx(_expected_similarity("dot", name), abs=1e-6)
        assert [n.get_content() for n in result.nodes] == [f"the {n} record" for n in ORDER]
