"""The LangChain companion stores: ByteStore, chat history, record manager; standard suites and real flows.

``TestByteStoreSync`` / ``TestByteStoreAsync`` are langchain_tests' ``BaseStoreSyncTests`` and
``BaseStoreAsyncTests``, unmodified. The record-manager tests marked "ported" are langchain-community's
``tests/unit_tests/indexes/test_sql_record_manager.py`` (MIT, the LangChain authors) with their assertions
intact, rewritten only where that file inserts rows through SQLAlchemy: here the rows are written through
``update`` under a patched ``get_time``, which is what those rows stand for.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.indexing import index
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_core.stores import BaseStore
from langchain_tests.integration_tests import BaseStoreAsyncTests, BaseStoreSyncTests

from langchain_vecvault import (
    VecVaultByteStore,
    VecVaultChatMessageHistory,
    VecVaultRecordManager,
    VecVaultVectorStore,
)
from vecvault import ConfigurationError, StorageError, Vault

CANARY_TEXT = "wombat-canary-parent-text-41ad"
CANARY_MESSAGE = "quokka-canary-chat-message-9e2f"
CANARY_SOURCE = "/home/alice/secret-canary-source.md"


class TestByteStoreSync(BaseStoreSyncTests[bytes]):
    @pytest.fixture
    def kv_store(self, tmp_path: Path) -> Iterator[BaseStore[str, bytes]]:  # type: ignore[override]
        store = VecVaultByteStore(path=tmp_path / "sync.db", key=os.urandom(32))
        try:
            yield store
        finally:
            store.close()

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"buzz"


class TestByteStoreAsync(BaseStoreAsyncTests[bytes]):
    @pytest.fixture
    def kv_store(self, tmp_path: Path) -> Iterator[BaseStore[str, bytes]]:  # type: ignore[override]
        vault = Vault.open(tmp_path / "async.db", key=os.urandom(32))
        try:
            yield VecVaultByteStore(vault=vault, namespace="async")
        finally:
            vault.close()

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"buzz"


@pytest.fixture
def vault(tmp_path: Path, lc_key: bytes) -> Iterator[Vault]:
    vault = Vault.open(tmp_path / "companions.db", key=lc_key)
    try:
        yield vault
    finally:
        vault.close()


# -- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pairs",
    [[("k", "text")], [(1, b"v")], [("k", None)], [("a", b"1"), ("b", 2)]],
)
def test_byte_store_refuses_non_str_keys_and_non_bytes_values(vault: Vault, pairs: list) -> None:
    store = VecVaultByteStore(vault=vault)
    with pytest.raises(ConfigurationError):
        store.mset(pairs)
    assert list(store.yield_keys()) == []


def test_constructor_arguments(vault: Vault, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        VecVaultByteStore(vault=vault, path=tmp_path / "x.db")
    with pytest.raises(ConfigurationError, match="needs a vault"):
        VecVaultByteStore()
    with pytest.raises(ConfigurationError, match="only with path"):
        VecVaultByteStore(vault=vault, key=os.urandom(32))
    with pytest.raises(ConfigurationError, match="Unknown option"):
        VecVaultByteStore(path=tmp_path / "x.db", key=os.urandom(32), colour="red")
    vault.collection("vectors", dim=2)
    vault.collection("vectors").add(vectors=[[1.0, 0.0]])
    with pytest.raises(ConfigurationError, match="collection"):
        VecVaultByteStore(vault=vault, namespace="vectors")


def test_a_store_never_closes_a_vault_it_was_given_and_closes_its_own(vault: Vault, tmp_path: Path) -> None:
    VecVaultByteStore(vault=vault).close()
    assert not vault.core.closed
    own = VecVaultByteStore(path=tmp_path / "own.db", key=os.urandom(32))
    own.close()
    with pytest.raises(StorageError, match="closed"):
        own.mget(["k"])
    vault.close()
    with pytest.raises(StorageError, match="closed"):
        VecVaultByteStore(vault=vault)


def test_a_wrong_key_is_refused(tmp_path: Path) -> None:
    from vecvault import WrongKeyError

    VecVaultByteStore(path=tmp_path / "k.db", key=os.urandom(32)).close()
    with pytest.raises(WrongKeyError):
        VecVaultChatMessageHistory("s", path=tmp_path / "k.db", key=os.urandom(32))


# -- ParentDocumentRetriever, MultiVectorRetriever, CacheBackedEmbeddings ---------------------------------


def test_parent_document_retriever_over_one_vault(vault: Vault) -> None:
    from langchain_classic.retrievers import ParentDocumentRetriever
    from langchain_classic.storage import create_kv_docstore
    from langchain_text_splitters import CharacterTextSplitter

    vectorstore = VecVaultVectorStore(DeterministicFakeEmbedding(size=8), vault=vault, collection_name="children")
    docstore = create_kv_docstore(VecVaultByteStore(vault=vault, namespace="parents"))
    retriever = ParentDocumentRetriever(
        vectorstore=vectorstore,
        docstore=docstore,
        child_splitter=CharacterTextSplitter(separator=" ", chunk_size=12, chunk_overlap=0),
    )
    parents = [
        Document(page_content=f"{CANARY_TEXT} alpha beta gamma delta", metadata={"source": "a"}),
        Document(page_content="epsilon zeta eta theta iota kappa", metadata={"source": "b"}),
    ]
    retriever.add_documents(parents, ids=["p1", "p2"])
    assert vectorstore.collection.count() > 2  # the children
    got = retriever.invoke("epsilon zeta")
    assert got and all(doc.page_content in {p.page_content for p in parents} for doc in got)
    assert docstore.mget(["p1"])[0].page_content == parents[0].page_content


def test_multi_vector_retriever(vault: Vault) -> None:
    from langchain_classic.retrievers.multi_vector import MultiVectorRetriever
    from langchain_classic.storage import create_kv_docstore

    embeddings = DeterministicFakeEmbedding(size=8)
    vectorstore = VecVaultVectorStore(embeddings, vault=vault, collection_name="summaries")
    retriever = MultiVectorRetriever(
        vectorstore=vectorstore, docstore=create_kv_docstore(VecVaultByteStore(vault=vault)), id_key="doc_id"
    )
    retriever.docstore.mset([("d1", Document(page_content="the full private document"))])
    vectorstore.add_documents([Document(page_content="summary one", metadata={"doc_id": "d1"})])
    assert [d.page_content for d in retriever.invoke("summary one")] == ["the full private document"]


class _CountingEmbeddings(Embeddings):
    def __init__(self) -> None:
        self.inner = DeterministicFakeEmbedding(size=8)
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def test_embedding_cache_hits_after_a_restart_and_hides_text_hashes(tmp_path: Path, lc_key: bytes) -> None:
    from langchain_classic.embeddings import CacheBackedEmbeddings

    path = tmp_path / "cache.db"
    first = _CountingEmbeddings()
    with VecVaultByteStore(path=path, key=lc_key, namespace="embedding_cache", file_encryption=False) as store:
        cached = CacheBackedEmbeddings.from_bytes_store(first, store, namespace="fake-8", key_encoder="sha256")
        vectors = cached.embed_documents([CANARY_TEXT, "second text"])
        assert first.calls == 2
    again = _CountingEmbeddings()
    with VecVaultByteStore(path=path, key=lc_key, namespace="embedding_cache") as store:
        cached = CacheBackedEmbeddings.from_bytes_store(again, store, namespace="fake-8", key_encoder="sha256")
        assert cached.embed_documents([CANARY_TEXT, "second text"]) == vectors
        assert again.calls == 0  # both from the sealed cache
        assert len(list(store.yield_keys())) == 2
    # Neither the text, nor its hashed cache key, nor the cached floats are in the files.
    key_hash = hashlib.sha256(CANARY_TEXT.encode()).hexdigest()
    floats = struct.pack("<4d", *vectors[0][:4])
    found = _scan(tmp_path, [CANARY_TEXT.encode(), key_hash.encode(), floats, str(vectors[0][0])[:12].encode()])
    assert found == []


# -- chat history --------------------------------------------------------------------------------------


ALL_MESSAGES: list[BaseMessage] = [
    SystemMessage("be brief", id="m0"),
    HumanMessage("hi", additional_kwargs={"lang": "en"}, name="alice"),
    AIMessage(
        "",
        tool_calls=[{"name": "search", "args": {"q": "weather", "n": 3}, "id": "call_1", "type": "tool_call"}],
        response_metadata={"model": "fake"},
        usage_metadata={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
    ),
    ToolMessage("sunny", tool_call_id="call_1", artifact={"raw": [1, 2]}),
    FunctionMessage("42", name="answer"),
    ChatMessage("custom role", role="critic"),
    AIMessage([{"type": "text", "text": "multi"}, {"type": "text", "text": "part"}]),
]


def test_every_message_type_round_trips_exactly(vault: Vault) -> None:
    history = VecVaultChatMessageHistory("s1", vault=vault)
    history.add_messages(ALL_MESSAGES[:3])
    history.add_message(ALL_MESSAGES[3])
    history.add_messages(ALL_MESSAGES[4:])
    assert history.messages == ALL_MESSAGES
    assert VecVaultChatMessageHistory("s1", vault=vault).messages == ALL_MESSAGES


async def test_async_chat_history(vault: Vault) -> None:
    history = VecVaultChatMessageHistory("async", vault=vault)
    await history.aadd_messages([HumanMessage("a"), AIMessage("b")])
    assert [m.content for m in await history.aget_messages()] == ["a", "b"]
    await history.aclear()
    assert await history.aget_messages() == []


def test_sessions_are_separate_and_listed_for_the_key_holder(vault: Vault) -> None:
    a = VecVaultChatMessageHistory("alice", vault=vault)
    b = VecVaultChatMessageHistory("bob", vault=vault)
    a.add_user_message("from alice")
    b.add_user_message("from bob")
    assert [m.content for m in a.messages] == ["from alice"]
    assert sorted(VecVaultChatMessageHistory.sessions(vault)) == ["alice", "bob"]
    a.clear()
    assert a.messages == [] and [m.content for m in b.messages] == ["from bob"]
    assert VecVaultChatMessageHistory.sessions(vault) == ["bob"]


class _Custom(BaseMessage):
    type: str = "custom-type"


def test_unknown_message_types_are_refused_and_nothing_is_stored(vault: Vault) -> None:
    history = VecVaultChatMessageHistory("s", vault=vault)
    with pytest.raises(ConfigurationError, match="message type"):
        history.add_messages([HumanMessage("ok"), _Custom(content="x")])
    with pytest.raises(ConfigurationError, match="not a LangChain message"):
        history.add_messages(["plain string"])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="session id"):
        VecVaultChatMessageHistory(42, vault=vault)  # type: ignore[arg-type]
    assert history.messages == []


@pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated")
def test_runnable_with_message_history(vault: Vault) -> None:
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{question}")])
    chain = prompt | FakeListChatModel(responses=["first answer", "second answer"])
    with_history = RunnableWithMessageHistory(
        chain,
        lambda session_id: VecVaultChatMessageHistory(session_id, vault=vault),
        input_messages_key="question",
        history_messages_key="history",
    )
    config = {"configurable": {"session_id": "conv-1"}}
    assert with_history.invoke({"question": "one?"}, config=config).content == "first answer"
    assert with_history.invoke({"question": "two?"}, config=config).content == "second answer"
    contents = [m.content for m in VecVaultChatMessageHistory("conv-1", vault=vault).messages]
    assert contents == ["one?", "first answer", "two?", "second answer"]


def test_clearing_a_session_removes_its_ciphertext(tmp_path: Path, lc_key: bytes) -> None:
    path = tmp_path / "chat.db"
    with Vault.open(path, key=lc_key, file_encryption=False) as vault:
        history = VecVaultChatMessageHistory("s", vault=vault)
        history.add_user_message(CANARY_MESSAGE * 20)
        sealed = _sealed_values(path)
        assert sealed and all(_in_files(tmp_path, blob[-24:]) for blob in sealed)
        history.clear()
        assert not any(_in_files(tmp_path, blob[-24:]) for blob in sealed)


# -- record manager: ported behaviour tests ----------------------------------------------------------------


@pytest.fixture
def manager(vault: Vault) -> VecVaultRecordManager:
    record_manager = VecVaultRecordManager("kittens", vault=vault)
    record_manager.create_schema()
    return record_manager


@pytest.fixture
async def amanager(vault: Vault) -> VecVaultRecordManager:
    record_manager = VecVaultRecordManager("kittens", vault=vault)
    await record_manager.acreate_schema()
    return record_manager


def _records(manager: VecVaultRecordManager) -> list[dict]:
    import json

    store = manager.vault.kv("record_manager/" + manager.namespace)
    return [{"key": k, "namespace": manager.namespace, **json.loads(v)} for k, v in store.items()]


def test_update(manager: VecVaultRecordManager) -> None:  # ported
    read_keys = manager.list_keys()
    assert read_keys == []
    keys = ["key1", "key2", "key3"]
    manager.update(keys)
    read_keys = manager.list_keys()
    assert read_keys == ["key1", "key2", "key3"]


async def test_aupdate(amanager: VecVaultRecordManager) -> None:  # ported
    read_keys = await amanager.alist_keys()
    assert read_keys == []
    keys = ["key1", "key2", "key3"]
    await amanager.aupdate(keys)
    read_keys = await amanager.alist_keys()
    assert read_keys == ["key1", "key2", "key3"]


def test_update_timestamp(manager: VecVaultRecordManager) -> None:  # ported
    with patch.object(manager, "get_time", return_value=datetime(2021, 1, 2).timestamp()):
        manager.update(["key1"])
    assert _records(manager) == [
        {"group_id": None, "key": "key1", "namespace": "kittens", "updated_at": datetime(2021, 1, 2, 0, 0).timestamp()}
    ]
    with patch.object(manager, "get_time", return_value=datetime(2023, 1, 2).timestamp()):
        manager.update(["key1"])
    assert _records(manager) == [
        {"group_id": None, "key": "key1", "namespace": "kittens", "updated_at": datetime(2023, 1, 2, 0, 0).timestamp()}
    ]
    with patch.object(manager, "get_time", return_value=datetime(2023, 2, 2).timestamp()):
        manager.update(["key1"], group_ids=["group1"])
    assert _records(manager) == [
        {
            "group_id": "group1",
            "key": "key1",
            "namespace": "kittens",
            "updated_at": datetime(2023, 2, 2, 0, 0).timestamp(),
        }
    ]


async def test_aupdate_timestamp(amanager: VecVaultRecordManager) -> None:  # ported
    with patch.object(amanager, "aget_time", return_value=datetime(2021, 1, 2).timestamp()):
        await amanager.aupdate(["key1"])
    assert _records(amanager) == [
        {"group_id": None, "key": "key1", "namespace": "kittens", "updated_at": datetime(2021, 1, 2, 0, 0).timestamp()}
    ]
    with patch.object(amanager, "aget_time", return_value=datetime(2023, 2, 2).timestamp()):
        await amanager.aupdate(["key1"], group_ids=["group1"])
    assert _records(amanager) == [
        {
            "group_id": "group1",
            "key": "key1",
            "namespace": "kittens",
            "updated_at": datetime(2023, 2, 2, 0, 0).timestamp(),
        }
    ]


def test_exists(manager: VecVaultRecordManager) -> None:  # ported
    keys = ["key1", "key2", "key3"]
    manager.update(keys)
    exists = manager.exists(keys)
    assert len(exists) == len(keys)
    assert exists == [True, True, True]
    exists = manager.exists(["key1", "key4"])
    assert len(exists) == 2
    assert exists == [True, False]


async def test_aexists(amanager: VecVaultRecordManager) -> None:  # ported
    keys = ["key1", "key2", "key3"]
    await amanager.aupdate(keys)
    exists = await amanager.aexists(keys)
    assert exists == [True, True, True]
    exists = await amanager.aexists(["key1", "key4"])
    assert exists == [True, False]


def _fill(manager: VecVaultRecordManager, vault: Vault) -> None:
    """The rows the ported test_list_keys inserts, written through update at those times."""
    puppies = VecVaultRecordManager("puppies", vault=vault)
    for key, group, when, target in [
        ("key1", None, datetime(2021, 1, 1), manager),
        ("key2", None, datetime(2022, 1, 1), manager),
        ("key3", None, datetime(2023, 1, 1), manager),
        ("key4", "group1", datetime(2024, 1, 1), manager),
        ("key1", None, datetime(2021, 1, 1), puppies),  # another namespace: not visible
        ("key5", None, datetime(2021, 1, 1), puppies),
    ]:
        with patch.object(target, "get_time", return_value=when.timestamp()):
            target.update([key], group_ids=[group])


def test_list_keys(manager: VecVaultRecordManager, vault: Vault) -> None:  # ported
    assert manager.list_keys() == []
    _fill(manager, vault)
    assert manager.list_keys() == ["key1", "key2", "key3", "key4"]
    assert manager.list_keys(after=datetime(2022, 2, 1).timestamp()) == ["key3", "key4"]
    assert manager.list_keys(before=datetime(2022, 2, 1).timestamp()) == ["key1", "key2"]
    assert manager.list_keys(before=datetime(2019, 2, 1).timestamp()) == []
    assert manager.list_keys(before=datetime(2022, 2, 1).timestamp(), after=datetime(2021, 11, 1).timestamp()) == [
        "key2"
    ]
    assert manager.list_keys(group_ids=["group1", "group2"]) == ["key4"]
    assert manager.list_keys(group_ids=["group1", "group2"], before=datetime(2019, 1, 1).timestamp()) == []
    assert manager.list_keys(group_ids=["group1", "group2"], after=datetime(2019, 1, 1).timestamp()) == ["key4"]
    assert manager.list_keys(limit=2) == ["key1", "key2"]


async def test_alist_keys(amanager: VecVaultRecordManager, vault: Vault) -> None:  # ported
    assert await amanager.alist_keys() == []
    _fill(amanager, vault)
    assert await amanager.alist_keys() == ["key1", "key2", "key3", "key4"]
    assert await amanager.alist_keys(after=datetime(2022, 2, 1).timestamp()) == ["key3", "key4"]
    assert await amanager.alist_keys(group_ids=["group1", "group2"]) == ["key4"]


def test_namespace_is_used(manager: VecVaultRecordManager, vault: Vault) -> None:  # ported
    assert manager.namespace == "kittens"
    puppies = VecVaultRecordManager("puppies", vault=vault)
    manager.update(["key1", "key2"])
    puppies.update(["key1", "key3"])
    assert manager.list_keys() == ["key1", "key2"]
    manager.delete_keys(["key1"])
    assert manager.list_keys() == ["key2"]
    manager.update(["key3"], group_ids=["group3"])
    assert sorted(puppies.list_keys()) == ["key1", "key3"]
    assert [(r["key"], r["group_id"]) for r in _records(manager)] == [("key2", None), ("key3", "group3")]


def test_delete_keys(manager: VecVaultRecordManager) -> None:  # ported
    manager.update(["key1", "key2", "key3"])
    manager.delete_keys(["key1", "key2"])
    remaining_keys = manager.list_keys()
    assert remaining_keys == ["key3"]


async def test_adelete_keys(amanager: VecVaultRecordManager) -> None:  # ported
    await amanager.aupdate(["key1", "key2", "key3"])
    await amanager.adelete_keys(["key1", "key2"])
    remaining_keys = await amanager.alist_keys()
    assert remaining_keys == ["key3"]


def test_time_at_least_in_the_future_and_mismatched_group_ids(manager: VecVaultRecordManager) -> None:
    with pytest.raises(ValueError, match="time_at_least"):
        manager.update(["k"], time_at_least=manager.get_time() + 3600)
    with pytest.raises(ValueError, match="group ids"):
        manager.update(["a", "b"], group_ids=["g"])
    assert manager.list_keys() == []


# -- index() with a vecvault vector store in the same vault ------------------------------------------------


def _docs(*texts: str) -> list[Document]:
    return [Document(page_content=t, metadata={"source": f"{CANARY_SOURCE}#{t[:1]}"}) for t in texts]


@pytest.mark.parametrize("cleanup", ["incremental", "full", "scoped_full"])
def test_index_with_a_vecvault_vector_store(vault: Vault, cleanup: str) -> None:
    store = VecVaultVectorStore(DeterministicFakeEmbedding(size=8), vault=vault, collection_name="indexed")
    manager = VecVaultRecordManager("vecvault/indexed", vault=vault)
    first = index(
        _docs("apple", "banana"), manager, store, cleanup=cleanup, source_id_key="source", key_encoder="sha256"
    )
    assert (first["num_added"], first["num_skipped"], first["num_deleted"]) == (2, 0, 0)
    again = index(
        _docs("apple", "banana"), manager, store, cleanup=cleanup, source_id_key="source", key_encoder="sha256"
    )
    assert (again["num_added"], again["num_skipped"], again["num_deleted"]) == (0, 2, 0)
    changed = index(
        _docs("apple", "blueberry"), manager, store, cleanup=cleanup, source_id_key="source", key_encoder="sha256"
    )
    assert (changed["num_added"], changed["num_skipped"], changed["num_deleted"]) == (1, 1, 1)
    assert sorted(d.page_content for d in store.similarity_search("x", k=10)) == ["apple", "blueberry"]
    assert len(manager.list_keys()) == 2


async def test_aindex_incremental(vault: Vault) -> None:
    from langchain_core.indexing import aindex

    store = VecVaultVectorStore(DeterministicFakeEmbedding(size=8), vault=vault, collection_name="aindexed")
    manager = VecVaultRecordManager("vecvault/aindexed", vault=vault)
    result = await aindex(
        _docs("apple", "banana"), manager, store, cleanup="incremental", source_id_key="source", key_encoder="sha256"
    )
    assert result["num_added"] == 2
    result = await aindex(_docs("apple"), manager, store, cleanup="full", source_id_key="source", key_encoder="sha256")
    assert (result["num_skipped"], result["num_deleted"]) == (1, 1)


def test_index_state_is_sealed_at_rest(tmp_path: Path, lc_key: bytes) -> None:
    path = tmp_path / "indexed.db"
    with Vault.open(path, key=lc_key, file_encryption=False) as vault:
        store = VecVaultVectorStore(DeterministicFakeEmbedding(size=8), vault=vault, collection_name="c")
        manager = VecVaultRecordManager("ns", vault=vault)
        docs = [Document(page_content=f"{CANARY_TEXT} {i}", metadata={"source": CANARY_SOURCE}) for i in range(5)]
        index(docs, manager, store, cleanup="incremental", source_id_key="source", key_encoder="sha256")
        history = VecVaultChatMessageHistory("session-canary", vault=vault)
        history.add_messages([HumanMessage(CANARY_MESSAGE), AIMessage(CANARY_MESSAGE + " reply")])
        VecVaultByteStore(vault=vault).mset([(CANARY_SOURCE, CANARY_TEXT.encode())])
        assert _scan(tmp_path, _needles()) == []
    assert _scan(tmp_path, _needles()) == []


# -- helpers -----------------------------------------------------------------------------------------------


def _needles() -> list[bytes]:
    out = []
    for text in (CANARY_TEXT, CANARY_MESSAGE, CANARY_SOURCE, "session-canary"):
        raw = text.encode()
        out += [raw, text.encode("utf-16-le"), raw.hex().encode(), base64.b64encode(raw)[:-4]]
    return out


def _scan(directory: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{needle[:20]!r} in {path.name}" for needle in needles if needle in data]
    return found


def _in_files(directory: Path, needle: bytes) -> bool:
    return any(needle in p.read_bytes() for p in directory.iterdir() if p.is_file())


def _sealed_values(path: Path) -> list[bytes]:
    import libsql

    conn = libsql.connect(str(path), isolation_level=None)
    try:
        return [bytes(r[0]) for r in conn.execute("SELECT CAST(value AS BLOB) FROM vv_kv").fetchall()]
    finally:
        conn.close()
