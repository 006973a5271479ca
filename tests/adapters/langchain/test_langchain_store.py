"""The store's own API: construction and lifecycle, adding, getting, deleting, search types, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from langchain_vecvault import VecVaultVectorStore
from vecvault import ConfigurationError, StorageError, Vault

from .conftest import StoreFactory


class CountingEmbeddings(Embeddings):
    """Records every embed call (batch sizes), delegating to a deterministic fake."""

    def __init__(self, size: int = 8) -> None:
        self.inner = DeterministicFakeEmbedding(size=size)
        self.document_batches: list[int] = []
        self.queries = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.document_batches.append(len(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return self.inner.embed_query(text)


# -- construction and lifecycle ----------------------------------------------------------------------------


def test_dimension_comes_from_first_add_without_probe(make_store: StoreFactory) -> None:
    emb = CountingEmbeddings(size=5)
    store = make_store(embedding=emb)
    assert store.embeddings is emb
    assert emb.document_batches == []
    assert emb.queries == 0
    assert store.collection.dim is None
    assert store.collection_name == "langchain"
    store.add_texts(["one", "two"])
    assert store.collection.dim == 5
    assert emb.document_batches == [2]


@pytest.mark.parametrize("search_type", ["similarity", "similarity_score_threshold", "mmr"])
async def test_empty_store_returns_nothing(store: VecVaultVectorStore, search_type: str) -> None:
    kwargs = {"score_threshold": 0.1} if search_type == "similarity_score_threshold" else {}
    assert store.search("q", search_type, **kwargs) == []
    assert await store.asearch("q", search_type, **kwargs) == []
    assert store.similarity_search_with_score("q") == []
    assert store.similarity_search_by_vector([0.0] * 8) == []
    assert await store.amax_marginal_relevance_search_by_vector([0.0] * 8) == []
    assert store.get_by_ids(["x"]) == []
    assert store.delete(["x"]) is True
    assert store.as_retriever(search_type=search_type, search_kwargs=kwargs).invoke("q") == []


def test_store_over_user_vault_leaves_it_open(tmp_path: Path, lc_key: bytes) -> None:
    with Vault.open(tmp_path / "mine.db", key=lc_key) as vault:
        store = VecVaultVectorStore(DeterministicFakeEmbedding(size=4), vault=vault, collection_name="notes")
        store.add_texts(["hello"], ids=["h"])
        with store:
            pass
        store.close()
        assert store.vault is vault
        assert vault.collections() == ["notes"]
        assert store.get_by_ids(["h"])[0].page_content == "hello"


def test_owned_vault_is_closed(tmp_path: Path, lc_key: bytes) -> None:
    with VecVaultVectorStore(DeterministicFakeEmbedding(size=4), path=tmp_path / "own.db", key=lc_key) as store:
        store.add_texts(["hello"])
    with pytest.raises(StorageError, match="closed"):
        store.similarity_search("hello")
    store.close()  # closing twice is harmless


def test_two_collections_in_one_vault_are_separate(tmp_path: Path, lc_key: bytes) -> None:
    with Vault.open(tmp_path / "two.db", key=lc_key) as vault:
        emb = DeterministicFakeEmbedding(size=4)
        a = VecVaultVectorStore(emb, vault=vault, collection_name="a")
        b = VecVaultVectorStore(emb, vault=vault, collection_name="b", metric="dot")
        a.add_texts(["in a"], ids=["1"])
        b.add_texts(["in b"], ids=["1"])
        assert [d.page_content for d in a.similarity_search("x")] == ["in a"]
        assert [d.page_content for d in b.similarity_search("x")] == ["in b"]
        a.delete(["1"])
        assert b.get_by_ids(["1"])[0].page_content == "in b"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "needs a vault"),
        ({"path": "x.db", "vault": "v"}, "not both"),
        ({"path": "x.db", "journal": True}, "Unknown option"),
        ({"path": "x.db", "metric": "manhattan"}, "Unknown metric"),
        ({"path": "x.db", "relevance_score_fn": 3}, "relevance_score_fn"),
    ],
)
def test_bad_construction(tmp_path: Path, lc_key: bytes, kwargs: dict[str, object], match: str) -> None:
    if "path" in kwargs:
        kwargs = {**kwargs, "path": tmp_path / "x.db", "key": lc_key}
    with pytest.raises(ConfigurationError, match=match):
        VecVaultVectorStore(DeterministicFakeEmbedding(size=4), **kwargs)  # type: ignore[arg-type]


def test_bad_construction_over_vault(tmp_path: Path, lc_key: bytes) -> None:
    with pytest.raises(ConfigurationError, match="Embeddings"):
        VecVaultVectorStore(None, path=tmp_path / "x.db", key=lc_key)  # type: ignore[arg-type]
    with Vault.open(tmp_path / "v.db", key=lc_key) as vault:
        with pytest.raises(ConfigurationError, match="only with path"):
            VecVaultVectorStore(DeterministicFakeEmbedding(size=4), vault=vault, key=lc_key)
        VecVaultVectorStore(DeterministicFakeEmbedding(size=4), vault=vault).add_texts(["x"])
        with pytest.raises(ConfigurationError, match="metric"):
            VecVaultVectorStore(DeterministicFakeEmbedding(size=4), vault=vault, metric="euclidean")
        with pytest.raises(ConfigurationError, match="dimension"):
            VecVaultVectorStore(DeterministicFakeEmbedding(size=3), vault=vault).add_texts(["y"])


def test_from_texts_and_documents(tmp_path: Path, lc_key: bytes) -> None:
    emb = DeterministicFakeEmbedding(size=4)
    docs = [Document(page_content="alpha", metadata={"n": 1}, id="a"), Document(page_content="beta")]
    store = VecVaultVectorStore.from_documents(
        docs, emb, path=tmp_path / "f.db", key=lc_key, collection_name="docs", metric="euclidean"
    )
    try:
        assert store.metric == "euclidean"
        assert store.collection_name == "docs"
        assert store.get_by_ids(["a"]) == [Document(page_content="alpha", metadata={"n": 1}, id="a")]
        assert store.collection.count() == 2
    finally:
        store.close()
    with Vault.open(tmp_path / "f.db", key=lc_key) as vault:
        again = VecVaultVectorStore.from_texts(
            ["gamma"], emb, metadatas=[{"n": 3}], ids=["g"], vault=vault, collection_name="docs", metric="l2"
        )
        assert again.collection.count() == 3
        assert again.similarity_search("alpha", k=1)[0].id == "a"


async def test_afrom_texts_and_documents(tmp_path: Path, lc_key: bytes) -> None:
    emb = DeterministicFakeEmbedding(size=4)
    store = await VecVaultVectorStore.afrom_texts(
        ["alpha", "beta"], emb, ids=["a", "b"], path=tmp_path / "af.db", key=lc_key, file_encryption=False
    )
    try:
        assert not store.vault.file_encrypted
        assert [d.id for d in await store.asimilarity_search("beta", k=1)] == ["b"]
    finally:
        store.close()
    docs = [Document(page_content="gamma", id="g"), Document(page_content="delta", id="d")]
    store = await VecVaultVectorStore.afrom_documents(docs, emb, path=tmp_path / "af.db", key=lc_key)
    try:
        assert {d.id for d in await store.aget_by_ids(["a", "b", "g", "d"])} == {"a", "b", "g", "d"}
    finally:
        store.close()


def test_from_texts_closes_its_vault_when_adding_fails(tmp_path: Path, lc_key: bytes) -> None:
    with pytest.raises(ConfigurationError, match="metadatas"):
        VecVaultVectorStore.from_texts(
            ["a", "b"], DeterministicFakeEmbedding(size=4), metadatas=[{}], path=tmp_path / "x.db", key=lc_key
        )
    # The file is free again: a fresh open works and holds no records.
    with Vault.open(tmp_path / "x.db", key=lc_key) as vault:
        assert vault.collection("langchain").count() == 0


# -- adding ------------------------------------------------------------------------------------------------


def test_add_documents_ids_and_batches(make_store: StoreFactory) -> None:
    emb = CountingEmbeddings()
    store = make_store(embedding=emb)
    docs = [Document(page_content=f"text {i}", metadata={"i": i}, id=f"doc{i}" if i % 2 else None) for i in range(5)]
    snapshot = [d.model_copy() for d in docs]
    ids = store.add_documents(docs, batch_size=2)
    assert docs == snapshot  # not mutated
    assert emb.document_batches == [2, 2, 1]
    assert ids[1] == "doc1"
    assert ids[3] == "doc3"
    assert len(set(ids)) == 5
    got = store.get_by_ids(ids)
    assert [d.id for d in got] == ids
    assert [d.metadata["i"] for d in got] == [0, 1, 2, 3, 4]
    # ids= wins over Document.id
    assert store.add_documents([Document(page_content="x", id="ignored")], ids=["chosen"]) == ["chosen"]
    assert store.get_by_ids(["ignored"]) == []


async def test_aadd_documents_upserts(make_store: StoreFactory) -> None:
    store = make_store()
    await store.aadd_documents([Document(page_content="old", metadata={"v": 1}, id="k")])
    await store.aadd_documents([Document(page_content="new", metadata={"v": 2}, id="k")])
    assert await store.aget_by_ids(["k"]) == [Document(page_content="new", metadata={"v": 2}, id="k")]
    assert store.collection.count() == 1
    assert await store.aadd_texts([]) == []


def _deep_list(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: s.add_texts(["a", "b"], metadatas=[{}]), "metadatas"),
        (lambda s: s.add_texts(["a", "b"], ids=["x", "x"]), "twice"),
        (lambda s: s.add_texts(["a"], ids=["x", "y"]), "ids"),
        (lambda s: s.add_texts(["a"], ids=[7]), "strings"),
        (lambda s: s.add_texts("abc"), "one string"),
        (lambda s: s.add_texts(["a", b"b"]), "texts must be strings"),
        (lambda s: s.add_texts(["a"], batch_size=0), "batch_size"),
        (lambda s: s.add_texts(["a"], metadatas=[{"bad": {1, 2}}]), "JSON"),
        (lambda s: s.add_texts(["a"], metadatas=[{"deep": _deep_list(5000)}]), "MAX_METADATA_DEPTH"),
        (lambda s: s.add_documents([Document("a", metadata={"deep": _deep_list(400)})]), "MAX_METADATA_DEPTH"),
        (lambda s: s.add_texts(["a"], where="x"), "unsupported keyword"),
        (lambda s: s.similarity_search("a", where_document={"$contains": "a"}), "unsupported keyword"),
        (lambda s: s.delete(), "needs ids or a filter"),
        (lambda s: s.delete(["a"], hard=True), "unsupported keyword"),
        (lambda s: s.max_marginal_relevance_search("a", k=5, fetch_k=2), "fetch_k"),
        (lambda s: s.similarity_search("a", k=0), "positive"),
        (lambda s: s.get_by_ids("abc"), "one string"),
    ],
)
def test_bad_input_raises_before_embedding(make_store: StoreFactory, call: object, match: str) -> None:
    emb = CountingEmbeddings()
    store = make_store(embedding=emb)
    store.add_texts(["seed"], ids=["seed"])
    before = list(emb.document_batches)
    with pytest.raises(ConfigurationError, match=match):
        call(store)  # type: ignore[operator]
    assert emb.document_batches == before
    assert store.collection.ids() == ["seed"]


# -- getting, deleting, search types -----------------------------------------------------------------------


def test_get_by_ids_order_missing_and_duplicates(store: VecVaultVectorStore) -> None:
    store.add_texts(["a", "b", "c"], ids=["1", "2", "3"])
    assert [d.id for d in store.get_by_ids(["3", "missing", "1", "3"])] == ["3", "1"]
    assert store.get_by_ids([]) == []


async def test_delete_by_ids_and_filter(store: VecVaultVectorStore) -> None:
    store.add_texts(["a", "b", "c", "d"], metadatas=[{"g": 1}, {"g": 1}, {"g": 2}, {"g": 2}], ids=["1", "2", "3", "4"])
    assert store.delete(["1", "nope"]) is True
    assert await store.adelete(["2"]) is True
    # ids and a filter together: only the listed ids that match
    assert store.delete(["3", "4"], filter={"g": {"$ne": 2}}) is True
    assert sorted(store.collection.ids()) == ["3", "4"]
    assert await store.adelete(filter={"g": 2}) is True
    assert store.collection.ids() == []


def test_search_types(store: VecVaultVectorStore) -> None:
    store.add_texts(["apple", "banana", "cherry"], ids=["a", "b", "c"])
    assert store.search("banana", "similarity", k=1)[0].id == "b"
    assert store.search("banana", "mmr", k=1)[0].id == "b"
    assert store.search("banana", "similarity_score_threshold", k=1, score_threshold=0.99)[0].id == "b"
    with pytest.raises(ValueError, match="search_type"):
        store.search("banana", "fuzzy")
    retriever = store.as_retriever(search_kwargs={"k": 2, "filter": {"$not": {"$or": [{"x": 1}]}}})
    assert len(retriever.invoke("banana")) == 2
    assert "VecVaultVectorStore" in retriever.tags


def test_optional_dependency_message() -> None:
    code = (
        "import sys; sys.modules['langchain_core'] = None\n"
        "try:\n    import langchain_vecvault\nexcept ImportError as e:\n    print(e)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["core", "integrations"])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=_repo_root()
    )
    assert "pip install 'vecvault[langchain]'" in out.stdout


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[3]
