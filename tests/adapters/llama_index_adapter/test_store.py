"""VecVaultVectorStore specifics: construction, ownership, configuration errors, MMR options, sealing."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters, VectorStoreQuery, VectorStoreQueryMode

from llama_index.vector_stores.vecvault import VecVaultVectorStore
from vecvault import ConfigurationError, StorageError, Vault


def _nodes() -> list[TextNode]:
    return [
        TextNode(id_="a", text="secret alpha text", embedding=[1.0, 0.0, 0.0], metadata={"who": "alice"}),
        TextNode(id_="b", text="secret beta text", embedding=[0.9, 0.1, 0.0], metadata={"who": "bob"}),
        TextNode(id_="c", text="secret gamma text", embedding=[0.0, 1.0, 0.0], metadata={"who": "carol"}),
    ]


def test_identity(li_store: VecVaultVectorStore, li_vault: Vault) -> None:
    assert VecVaultVectorStore.class_name() == "VecVaultVectorStore"
    assert li_store.client is li_vault
    assert li_store.stores_text is True
    assert li_store.flat_metadata is False
    assert li_store.collection_name == "llama_index"
    assert li_store.to_dict()["class_name"] == "VecVaultVectorStore"


def test_rejects_non_vault() -> None:
    with pytest.raises(ConfigurationError, match="from_params"):
        VecVaultVectorStore(vault="x.db")  # type: ignore[arg-type]


def test_close_leaves_a_passed_vault_open(li_vault: Vault) -> None:
    store = VecVaultVectorStore(vault=li_vault, collection_name="c")
    store.add(_nodes())
    store.close()
    assert li_vault.collection("c").count() == 3


def test_from_params_owns_and_closes(li_path: Path, li_key: bytes) -> None:
    store = VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="docs", metric="cosine")
    store.add(_nodes())
    vault = store.client
    store.close()
    with pytest.raises(StorageError, match="closed"):
        vault.collections()
    with VecVaultVectorStore.from_params(path=str(li_path), key=li_key, collection_name="docs") as again:
        assert again.dim is None
        assert again.collection.dim == 3
        assert [n.node_id for n in again.get_nodes(["c"])] == ["c"]


def test_from_params_closes_vault_on_bad_config(li_path: Path, li_key: bytes) -> None:
    VecVaultVectorStore.from_params(path=li_path, key=li_key, dim=3).close()
    with pytest.raises(ConfigurationError):
        VecVaultVectorStore.from_params(path=li_path, key=li_key, dim=3, metric="euclidean")
    # The failed attempt released the file: it opens again normally.
    VecVaultVectorStore.from_params(path=li_path, key=li_key).close()


def test_dim_from_first_add_and_checked(li_store: VecVaultVectorStore) -> None:
    assert li_store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=2)).ids == []
    li_store.add(_nodes())
    assert li_store.collection.dim == 3
    with pytest.raises(ConfigurationError, match="dimension"):
        li_store.add([TextNode(id_="z", text="z", embedding=[1.0, 0.0])])
    with pytest.raises(ConfigurationError):
        li_store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=1))


def test_add_without_embedding_names_the_fix(li_store: VecVaultVectorStore) -> None:
    with pytest.raises(ConfigurationError, match="embed"):
        li_store.add([TextNode(id_="z", text="no vector")])
    assert li_store.get_nodes() == []


def test_duplicate_ids_in_one_batch_keep_the_last(li_store: VecVaultVectorStore) -> None:
    first = TextNode(id_="d", text="first", embedding=[1.0, 0.0, 0.0])
    second = TextNode(id_="d", text="second", embedding=[0.0, 1.0, 0.0])
    assert li_store.add([first, second]) == ["d", "d"]
    (node,) = li_store.get_nodes()
    assert node.get_content() == "second"
    assert node.embedding == [0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "mode",
    [
        m
        for m in VectorStoreQueryMode
        if m
        not in (
            VectorStoreQueryMode.DEFAULT,
            VectorStoreQueryMode.MMR,
            VectorStoreQueryMode.TEXT_SEARCH,
            VectorStoreQueryMode.SPARSE,
            VectorStoreQueryMode.HYBRID,
        )
    ],
)
def test_unsupported_modes_name_the_supported_ones(li_store: VecVaultVectorStore, mode: VectorStoreQueryMode) -> None:
    li_store.add(_nodes())
    with pytest.raises(ConfigurationError, match=r"\['default', 'mmr', 'text_search', 'sparse', 'hybrid'\]"):
        li_store.query(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=1, mode=mode))


def test_query_without_embedding_gets_by_filter(li_store: VecVaultVectorStore) -> None:
    """As the Chroma store: no embedding is a filtered get of up to similarity_top_k nodes, no similarities."""
    assert li_store.query(VectorStoreQuery(query_str="hello", similarity_top_k=1)).ids == []
    li_store.add(_nodes())
    filters = MetadataFilters(filters=[MetadataFilter(key="who", value="bob")])
    result = li_store.query(VectorStoreQuery(query_str="hello", similarity_top_k=1, filters=filters))
    assert result.ids == ["b"]
    assert result.nodes is not None and result.nodes[0].get_content() == "secret beta text"
    assert not result.similarities
    assert len(li_store.query(VectorStoreQuery(similarity_top_k=2)).ids or []) == 2


def test_delete_nodes_without_arguments_refuses(li_store: VecVaultVectorStore) -> None:
    li_store.add(_nodes())
    with pytest.raises(ConfigurationError, match="clear"):
        li_store.delete_nodes()
    assert len(li_store.get_nodes()) == 3


def test_mmr_threshold_on_query_and_prefetch_options(li_store: VecVaultVectorStore) -> None:
    li_store.add(_nodes())
    q = [1.0, 0.05, 0.0]
    relevance = VectorStoreQuery(query_embedding=q, similarity_top_k=2, mode="mmr", mmr_threshold=1.0)
    assert li_store.query(relevance).ids == ["a", "b"]
    diverse = VectorStoreQuery(query_embedding=q, similarity_top_k=2, mode="mmr", mmr_threshold=0.1)
    assert li_store.query(diverse).ids == ["a", "c"]
    # A prefetch pool of 2 only holds a and b, so diversity cannot reach c.
    assert li_store.query(diverse, mmr_prefetch_k=2).ids == ["a", "b"]
    assert li_store.query(diverse, mmr_prefetch_factor=1.0).ids == ["a", "b"]
    with pytest.raises(ConfigurationError, match="mmr_prefetch_factor"):
        li_store.query(diverse, mmr_prefetch_factor=0.5)
    with pytest.raises(ConfigurationError, match="lambda_mult"):
        li_store.query(VectorStoreQuery(query_embedding=q, similarity_top_k=2, mode="mmr", mmr_threshold=3.0))


def test_similarities_are_relevance(li_store: VecVaultVectorStore) -> None:
    li_store.add(_nodes())
    result = li_store.query(VectorStoreQuery(query_embedding=[-1.0, 0.0, 0.0], similarity_top_k=3))
    assert result.similarities is not None
    assert all(0.0 <= s <= 1.0 for s in result.similarities)
    assert result.similarities[-1] == pytest.approx(0.0)


def test_nothing_readable_at_rest(li_path: Path, li_key: bytes) -> None:
    with VecVaultVectorStore.from_params(path=li_path, key=li_key, file_encryption=False) as store:
        store.add(_nodes())
    raw = b"".join(p.read_bytes() for p in li_path.parent.iterdir() if p.name.startswith(li_path.name))
    for secret in (b"secret", b"alice", b"_node_content", b"ref_doc_id"):
        assert secret not in raw


async def test_async_methods_do_not_block_the_loop(li_store: VecVaultVectorStore) -> None:
    """Every async method runs the vault's work in another thread than the event loop's."""
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = li_store.collection.search

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(threading.get_ident())
        return original(*args, **kwargs)

    await li_store.async_add(_nodes())
    object.__setattr__(li_store.collection, "search", spy)
    try:
        result = await li_store.aquery(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=1))
    finally:
        del li_store.collection.search
    assert result.ids == ["a"]
    assert seen
    assert loop_thread not in seen


def test_importing_without_the_extra_names_it() -> None:
    code = (
        "import sys; sys.modules['llama_index.core'] = None\n"
        "try:\n    import llama_index.vector_stores.vecvault\nexcept ImportError as e:\n    print(e)\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "core"), str(root / "integrations")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "pip install 'vecvault[llama-index]'" in out.stdout
