"""The LlamaIndex companion stores: kvstore, docstore, index store, chat stores; ported tests and real flows.

Tests marked "ported" are llama-index-core's own behaviour tests (MIT, LlamaIndex), their assertions intact,
run against the vecvault classes instead of the in-memory ones:
``tests/storage/kvstore/test_simple_kvstore.py`` (SimpleKVStore), ``tests/storage/chat_store/
test_simple_chat_store.py`` (SimpleChatStore) and ``tests/storage/chat_store/test_sql.py``
(SQLAlchemyChatStore). Where the SQL test looks a row id up in its table, the vecvault store takes the
message's position instead (documented on ``VecVaultDBChatStore.delete_message``).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.ingestion import IngestionCache, IngestionPipeline
from llama_index.core.memory import ChatMemoryBuffer, Memory, VectorMemoryBlock
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.storage.chat_store.base_db import MessageStatus
from tests.adapters.llama_index_adapter.helpers import HashEmbedding

from llama_index.storage.chat_store.vecvault import VecVaultChatStore, VecVaultDBChatStore
from llama_index.storage.docstore.vecvault import VecVaultDocumentStore
from llama_index.storage.index_store.vecvault import VecVaultIndexStore
from llama_index.storage.kvstore.vecvault import VecVaultKVStore
from llama_index.vector_stores.vecvault import VecVaultVectorStore
from vecvault import ConfigurationError, StorageError, Vault

CANARY_TEXT = "pangolin-canary-document-text-77b1"
CANARY_CHAT = "axolotl-canary-agent-memory-3f0c"
CANARY_DOC_ID = "/home/bob/canary-private-doc-id.txt"


@pytest.fixture
def simple_kvstore(li_vault: Vault) -> VecVaultKVStore:
    return VecVaultKVStore(vault=li_vault)


@pytest.fixture
def chat_store(li_vault: Vault) -> VecVaultChatStore:
    return VecVaultChatStore(vault=li_vault)


@pytest.fixture
def db_chat_store(li_vault: Vault) -> VecVaultDBChatStore:
    return VecVaultDBChatStore(vault=li_vault)


# -- kvstore: ported from test_simple_kvstore.py -------------------------------------------------------------


def test_kvstore_basic(simple_kvstore: VecVaultKVStore) -> None:  # ported
    test_key = "test_key"
    test_blob = {"test_obj_key": "test_obj_val"}
    simple_kvstore.put(test_key, test_blob)
    blob = simple_kvstore.get(test_key)
    assert blob == test_blob
    blob = simple_kvstore.get(test_key, collection="non_existent")
    assert blob is None


def test_kvstore_persist(li_path: Path, li_key: bytes) -> None:  # ported: a reopened vault, not a JSON file
    with VecVaultKVStore.from_params(li_path, li_key) as kvstore:
        kvstore.put("test_key", {"test_obj_key": "test_obj_val"})
    with VecVaultKVStore.from_params(li_path, li_key) as loaded_kvstore:
        assert len(loaded_kvstore.get_all()) == 1


def test_kvstore_put_all_get_all_delete_and_async(simple_kvstore: VecVaultKVStore) -> None:
    import asyncio

    pairs = [(f"k{i}", {"i": i, "nested": {"list": [i, "x"]}}) for i in range(250)]
    simple_kvstore.put_all(pairs, collection="c", batch_size=100)
    assert simple_kvstore.get_all("c") == dict(pairs)
    assert simple_kvstore.delete("k1", collection="c") is True
    assert simple_kvstore.delete("k1", collection="c") is False

    async def go() -> None:
        await simple_kvstore.aput("a", {"v": 1}, collection="async")
        await simple_kvstore.aput_all([("b", {"v": 2})], collection="async")
        assert await simple_kvstore.aget("a", collection="async") == {"v": 1}
        assert await simple_kvstore.aget_all(collection="async") == {"a": {"v": 1}, "b": {"v": 2}}
        assert await simple_kvstore.adelete("a", collection="async") is True

    asyncio.run(go())


def test_kvstore_bad_input(simple_kvstore: VecVaultKVStore, li_vault: Vault) -> None:
    with pytest.raises(ConfigurationError, match="dicts"):
        simple_kvstore.put("k", "not a dict")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="keys must be str"):
        simple_kvstore.put(3, {})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="JSON"):
        simple_kvstore.put("k", {"x": object()})
    with pytest.raises(ConfigurationError, match="JSON"):
        simple_kvstore.put_all([("ok", {}), ("bad", {"f": float("nan")})])
    assert simple_kvstore.get_all() == {}
    with pytest.raises(ConfigurationError, match=r"vecvault\.Vault"):
        VecVaultKVStore(vault="db.sqlite")  # type: ignore[arg-type]
    li_vault.close()
    with pytest.raises(StorageError, match="closed"):
        simple_kvstore.get("k")


# -- chat store: ported from test_simple_chat_store.py --------------------------------------------------------


def test_add_messages(chat_store: VecVaultChatStore) -> None:  # ported
    chat_store.add_message("user1", ChatMessage(role="user", content="hello"))
    chat_store.add_message("user1", ChatMessage(role="user", content="world"))
    chat_store.add_message("user2", ChatMessage(role="user", content="hello"))
    chat_store.add_message("user2", ChatMessage(role="user", content="world"))
    assert chat_store.get_messages("user1") == [
        ChatMessage(role="user", content="hello"),
        ChatMessage(role="user", content="world"),
    ]
    assert chat_store.get_messages("user2") == [
        ChatMessage(role="user", content="hello"),
        ChatMessage(role="user", content="world"),
    ]
    assert chat_store.get_keys() == ["user1", "user2"]
    chat_store.add_message("user1", ChatMessage(role="user", content="hello"), idx=0)
    assert chat_store.get_messages("user1") == [
        ChatMessage(role="user", content="hello"),
        ChatMessage(role="user", content="hello"),
        ChatMessage(role="user", content="world"),
    ]


def test_delete_chat_messages(chat_store: VecVaultChatStore) -> None:  # ported
    chat_store.add_message("user1", ChatMessage(role="user", content="hello"))
    chat_store.add_message("user1", ChatMessage(role="user", content="world"))
    chat_store.add_message("user2", ChatMessage(role="user", content="hello"))
    chat_store.add_message("user2", ChatMessage(role="user", content="world"))
    chat_store.delete_messages("user1")
    assert chat_store.get_messages("user1") == []
    assert chat_store.get_messages("user2") == [
        ChatMessage(role="user", content="hello"),
        ChatMessage(role="user", content="world"),
    ]


def test_delete_chat_message(chat_store: VecVaultChatStore) -> None:  # ported
    chat_store.add_message("user1", ChatMessage(role="user", content="hello"))
    chat_store.add_message("user1", ChatMessage(role="user", content="world"))
    chat_store.delete_last_message("user1")
    assert chat_store.get_messages("user1") == [ChatMessage(role="user", content="hello")]


def test_delete_chat_message_idx(chat_store: VecVaultChatStore) -> None:  # ported
    chat_store.add_message("user1", ChatMessage(role="user", content="hello"))
    chat_store.add_message("user1", ChatMessage(role="user", content="world"))
    chat_store.delete_message("user1", 0)
    assert chat_store.get_messages("user1") == [ChatMessage(role="user", content="world")]


def test_delete_chat_message_out_of_bounds(chat_store: VecVaultChatStore) -> None:  # ported
    chat_store.add_message("user1", ChatMessage(role="user", content="hello"))
    assert chat_store.delete_message("user1", -2) is None
    assert chat_store.get_messages("user1") == [ChatMessage(role="user", content="hello")]


def test_delete_last_chat_message_from_empty_history(chat_store: VecVaultChatStore) -> None:  # ported
    message = ChatMessage(role="user", content="hello")
    chat_store.add_message("user1", message)
    assert chat_store.delete_last_message("user1") == message
    assert chat_store.delete_last_message("user1") is None


def test_persist_non_ascii_unescaped(li_path: Path, li_key: bytes) -> None:  # ported: sealed, not a JSON file
    with VecVaultChatStore.from_params(li_path, li_key) as store:
        store.add_message("user1", ChatMessage(role="user", content="ハロー héllo"))
    assert "ハロー héllo".encode() not in li_path.read_bytes()  # sealed, whatever the encoding
    with VecVaultChatStore.from_params(li_path, li_key) as store:
        assert store.get_messages("user1") == [ChatMessage(role="user", content="ハロー héllo")]


def test_chat_store_rejects_non_messages_and_has_async_twins(chat_store: VecVaultChatStore) -> None:
    import asyncio

    with pytest.raises(ConfigurationError, match="ChatMessage"):
        chat_store.set_messages("k", ["hello"])  # type: ignore[list-item]
    assert chat_store.get_keys() == []

    async def go() -> None:
        await chat_store.aset_messages("k", [ChatMessage(role="user", content="a")])
        await chat_store.async_add_message("k", ChatMessage(role="assistant", content="b"))
        assert [m.content for m in await chat_store.aget_messages("k")] == ["a", "b"]
        assert (await chat_store.adelete_last_message("k")).content == "b"
        assert (await chat_store.adelete_message("k", 0)).content == "a"
        assert await chat_store.aget_keys() == []
        assert await chat_store.adelete_messages("k") is None

    asyncio.run(go())


def test_chat_memory_buffer_over_a_restart(li_path: Path, li_key: bytes) -> None:
    with VecVaultChatStore.from_params(li_path, li_key) as store:
        memory = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="alice")
        memory.put(ChatMessage(role="user", content="remember the blue door"))
        memory.put(ChatMessage(role="assistant", content="the blue door, noted"))
    with VecVaultChatStore.from_params(li_path, li_key) as store:
        memory = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="alice")
        assert [m.content for m in memory.get_all()] == ["remember the blue door", "the blue door, noted"]
        other = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="bob")
        assert other.get_all() == []


# -- AsyncDBChatStore: ported from test_sql.py ---------------------------------------------------------------


async def test_add_get_messages(db_chat_store: VecVaultDBChatStore) -> None:  # ported
    chat_store = db_chat_store
    await chat_store.add_message("user1", ChatMessage(role="user", content="hello"))
    await chat_store.add_message("user1", ChatMessage(role="assistant", content="world"))
    messages = await chat_store.get_messages("user1")
    assert len(messages) == 2
    assert messages[0].role == "user"
    assert messages[0].content == "hello"
    assert messages[1].role == "assistant"
    assert messages[1].content == "world"
    empty_messages = await chat_store.get_messages("nonexistent")
    assert len(empty_messages) == 0


async def test_add_messages_batch(db_chat_store: VecVaultDBChatStore) -> None:  # ported
    batch_messages = [
        ChatMessage(role="user", content="hello"),
        ChatMessage(role="assistant", content="world"),
        ChatMessage(role="user", content="how are you?"),
    ]
    await db_chat_store.add_messages("batch_user", batch_messages)
    messages = await db_chat_store.get_messages("batch_user")
    assert len(messages) == 3
    assert [m.content for m in messages] == ["hello", "world", "how are you?"]


async def test_count_messages(db_chat_store: VecVaultDBChatStore) -> None:  # ported
    batch_messages = [
        ChatMessage(role="user", content="message1"),
        ChatMessage(role="assistant", content="message2"),
        ChatMessage(role="user", content="message3"),
    ]
    await db_chat_store.add_messages("count_user", batch_messages)
    count = await db_chat_store.count_messages("count_user")
    assert count == 3
    empty_count = await db_chat_store.count_messages("nonexistent")
    assert empty_count == 0


async def test_set_messages(db_chat_store: VecVaultDBChatStore) -> None:  # ported
    await db_chat_store.add_message("replace_user", ChatMessage(role="user", content="initial"))
    new_messages = [
        ChatMessage(role="user", content="replaced1"),
        ChatMessage(role="assistant", content="replaced2"),
    ]
    await db_chat_store.set_messages("replace_user", new_messages)
    messages = await db_chat_store.get_messages("replace_user")
    assert len(messages) == 2
    assert [m.content for m in messages] == ["replaced1", "replaced2"]


async def test_delete_message(db_chat_store: VecVaultDBChatStore) -> None:  # ported (a position, not a row id)
    batch_messages = [
        ChatMessage(role="user", content="message1"),
        ChatMessage(role="assistant", content="message2"),
        ChatMessage(role="user", content="message3"),
    ]
    await db_chat_store.add_messages("delete_user", batch_messages)
    middle_id = 1
    deleted_message = await db_chat_store.delete_message("delete_user", middle_id)
    assert deleted_message.content == "message2"
    remaining_messages = await db_chat_store.get_messages("delete_user")
    assert len(remaining_messages) == 2
    assert [m.content for m in remaining_messages] == ["message1", "message3"]


async def test_delete_messages(db_chat_store: VecVaultDBChatStore) -> None:  # ported
    await db_chat_store.add_message("delete_all_user1", ChatMessage(role="user", content="user1_message"))
    await db_chat_store.add_message("delete_all_user2", ChatMessage(role="user", content="user2_message"))
    await db_chat_store.delete_messages("delete_all_user1")
    user1_messages = await db_chat_store.get_messages("delete_all_user1")
    user2_messages = await db_chat_store.get_messages("delete_all_user2")
    assert len(user1_messages) == 0
    assert len(user2_messages) == 1


async def test_delete_oldest_messages(db_chat_store: VecVaultDBChatStore) -> None:  # ported
    batch_messages = [
        ChatMessage(role="user", content="oldest"),
        ChatMessage(role="assistant", content="middle"),
        ChatMessage(role="user", content="newest"),
    ]
    await db_chat_store.add_messages("oldest_test", batch_messages)
    deleted = await db_chat_store.delete_oldest_messages("oldest_test", 1)
    assert len(deleted) == 1
    assert deleted[0].content == "oldest"
    remaining = await db_chat_store.get_messages("oldest_test")
    assert len(remaining) == 2
    assert [m.content for m in remaining] == ["middle", "newest"]


async def test_archive_oldest_messages(db_chat_store: VecVaultDBChatStore) -> None:  # ported
    batch_messages = [
        ChatMessage(role="user", content="oldest"),
        ChatMessage(role="assistant", content="middle"),
        ChatMessage(role="user", content="newest"),
    ]
    await db_chat_store.add_messages("archive_test", batch_messages)
    archived = await db_chat_store.archive_oldest_messages("archive_test", 1)
    assert len(archived) == 1
    assert archived[0].content == "oldest"
    active = await db_chat_store.get_messages("archive_test", status=MessageStatus.ACTIVE)
    assert len(active) == 2
    assert [m.content for m in active] == ["middle", "newest"]
    archived_msgs = await db_chat_store.get_messages("archive_test", status=MessageStatus.ARCHIVED)
    assert len(archived_msgs) == 1
    assert archived_msgs[0].content == "oldest"


async def test_get_messages_with_limit_offset(db_chat_store: VecVaultDBChatStore) -> None:  # ported
    batch_messages = [
        ChatMessage(role="user", content="message1"),
        ChatMessage(role="assistant", content="message2"),
        ChatMessage(role="user", content="message3"),
        ChatMessage(role="assistant", content="message4"),
        ChatMessage(role="user", content="message5"),
    ]
    await db_chat_store.add_messages("pagination_test", batch_messages)
    limited = await db_chat_store.get_messages("pagination_test", limit=2)
    assert len(limited) == 2
    assert [m.content for m in limited] == ["message1", "message2"]
    offset = await db_chat_store.get_messages("pagination_test", offset=2)
    assert len(offset) == 3
    assert [m.content for m in offset] == ["message3", "message4", "message5"]
    paginated = await db_chat_store.get_messages("pagination_test", limit=2, offset=1)
    assert len(paginated) == 2
    assert [m.content for m in paginated] == ["message2", "message3"]


async def test_get_keys(db_chat_store: VecVaultDBChatStore) -> None:  # ported
    await db_chat_store.add_message("keys_user1", ChatMessage(role="user", content="user1_message"))
    await db_chat_store.add_message("keys_user2", ChatMessage(role="user", content="user2_message"))
    await db_chat_store.add_message("keys_user3", ChatMessage(role="user", content="user3_message"))
    keys = await db_chat_store.get_keys()
    expected_keys = {"keys_user1", "keys_user2", "keys_user3"}
    assert expected_keys.issubset(set(keys))


# -- docstore, index store, StorageContext, load_index_from_storage -------------------------------------------


def _documents() -> list[Document]:
    return [
        Document(text=f"{CANARY_TEXT}: the lighthouse keeper writes letters.", id_=CANARY_DOC_ID),
        Document(text="Bees make honey from the nectar of flowers.", id_="bees"),
        Document(text="The river floods the valley every spring.", id_="river"),
    ]


def _context(vault: Vault) -> StorageContext:
    return StorageContext.from_defaults(
        docstore=VecVaultDocumentStore.from_vault(vault),
        index_store=VecVaultIndexStore.from_vault(vault),
        vector_store=VecVaultVectorStore(vault=vault, collection_name="index_vectors"),
    )


def test_storage_context_restart_and_load_index_from_storage(li_path: Path, li_key: bytes) -> None:
    embed = HashEmbedding()
    with Vault.open(li_path, key=li_key) as vault:
        index = VectorStoreIndex.from_documents(
            _documents(), storage_context=_context(vault), embed_model=embed, store_nodes_override=True
        )
        index_id = index.index_id
        stored = vault.kv("llama_index/docstore/data").get(list(index.docstore.docs))
        assert len(stored) == 3 and None not in stored
    with Vault.open(li_path, key=li_key) as vault:
        context = _context(vault)
        assert [s.index_id for s in context.index_store.index_structs()] == [index_id]
        loaded = load_index_from_storage(context, embed_model=embed)
        hits = loaded.as_retriever(similarity_top_k=1).retrieve("honey from bees and flowers")
        assert "honey" in hits[0].node.get_content()
        assert context.docstore.get_ref_doc_info(CANARY_DOC_ID) is not None
        assert context.docstore.get_ref_doc_info("bees") is not None


def test_docstore_from_params_and_namespaces(li_path: Path, li_key: bytes) -> None:
    docstore = VecVaultDocumentStore.from_params(li_path, li_key, namespace="project_a")
    try:
        docstore.add_documents(_documents())
        assert set(docstore.docs) == {CANARY_DOC_ID, "bees", "river"}
        assert docstore.document_exists("bees")
        docstore.delete_document("bees")
        assert not docstore.document_exists("bees")
        other = VecVaultDocumentStore.from_vault(docstore.kvstore.vault, namespace="project_b")
        assert other.docs == {}
    finally:
        docstore.close()


def _pipeline(vault: Vault) -> IngestionPipeline:
    return IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), HashEmbedding()],
        docstore=VecVaultDocumentStore.from_vault(vault, namespace="ingest"),
        vector_store=VecVaultVectorStore(vault=vault, collection_name="ingested"),
        cache=IngestionCache(cache=VecVaultKVStore(vault=vault), collection="ingest_cache"),
    )


def test_ingestion_pipeline_deduplicates_and_upserts_across_restarts(li_path: Path, li_key: bytes) -> None:
    with Vault.open(li_path, key=li_key) as vault:
        first = _pipeline(vault).run(documents=_documents())
        assert len(first) == 3
        assert vault.collection("ingested").count() == 3
        assert len(vault.kv("llama_index/ingest_cache").get(list(vault.kv("llama_index/ingest_cache").keys()))) >= 1
    with Vault.open(li_path, key=li_key) as vault:
        again = _pipeline(vault).run(documents=_documents())
        assert again == []  # every document's hash is already in the sealed docstore
        changed = _documents()
        changed[1] = Document(text="Bees make wax as well as honey.", id_="bees")
        upserted = _pipeline(vault).run(documents=changed)
        assert len(upserted) == 1 and "wax" in upserted[0].get_content()
        assert vault.collection("ingested").count() == 3  # the old bees node was replaced


# -- Memory with a VectorMemoryBlock, all in one vault ---------------------------------------------------------


CHAT = [
    ("user", f"{CANARY_CHAT}: my favourite colour is teal, like the sea."),
    ("assistant", "Noted: your favourite colour is teal."),
    ("user", "I live in Lisbon near the river."),
    ("assistant", "Lisbon is lovely by the river."),
    ("user", "My dog is called Biscuit and loves walks."),
    ("assistant", "Biscuit sounds like a happy dog."),
]


def _memory(vault: Vault) -> Memory:
    block = VectorMemoryBlock(
        vector_store=VecVaultVectorStore(vault=vault, collection_name="agent_memory"),
        embed_model=HashEmbedding(),
        similarity_top_k=1,
        retrieval_context_window=1,
    )
    return Memory.from_defaults(
        session_id="agent-alice",
        chat_store=VecVaultDBChatStore(vault=vault),
        token_limit=40,
        chat_history_token_ratio=0.5,
        token_flush_size=10,
        tokenizer_fn=str.split,
        memory_blocks=[block],
    )


async def test_memory_keeps_short_and_long_term_in_one_vault_across_a_restart(li_path: Path, li_key: bytes) -> None:
    with Vault.open(li_path, key=li_key) as vault:
        memory = _memory(vault)
        for role, content in CHAT:
            await memory.aput(ChatMessage(role=MessageRole(role), content=content))
        active = [m.content for m in await memory.aget_all()]
        assert active and vault.collection("agent_memory").count() > 0  # older turns flushed into the block
        archived = await VecVaultDBChatStore(vault=vault).get_messages("agent-alice", status=MessageStatus.ARCHIVED)
        assert archived
    with Vault.open(li_path, key=li_key) as vault:
        memory = _memory(vault)
        assert [m.content for m in await memory.aget_all()] == active  # short-term chat survived
        await memory.aput(ChatMessage(role="user", content="what is my favourite colour again"))
        messages = await memory.aget()
        assert "teal" in (messages[0].content or "")  # recalled from the sealed long-term block
        assert await VecVaultDBChatStore(vault=vault).get_keys() == ["agent-alice"]


# -- nothing readable at rest ---------------------------------------------------------------------------------


def _needles() -> list[bytes]:
    out = []
    for text in (CANARY_TEXT, CANARY_CHAT, CANARY_DOC_ID, "lighthouse keeper", "agent-alice"):
        raw = text.encode()
        out += [raw, text.encode("utf-16-le"), raw.hex().encode(), base64.b64encode(raw)[:-4]]
    return out


def _scan(directory: Path) -> list[str]:
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{needle[:20]!r} in {path.name}" for needle in _needles() if needle in data]
    return found


@pytest.fixture
def plain_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "plain"
    directory.mkdir()
    return directory


@pytest.mark.parametrize("file_encryption", [None, False])
async def test_every_llama_index_store_is_sealed_at_rest(
    plain_dir: Path, li_key: bytes, file_encryption: bool | None
) -> None:
    path = plain_dir / "v.db"
    with Vault.open(path, key=li_key, file_encryption=file_encryption) as vault:
        VectorStoreIndex.from_documents(
            _documents(), storage_context=_context(vault), embed_model=HashEmbedding(), store_nodes_override=True
        )
        _pipeline(vault).run(documents=_documents())
        memory = _memory(vault)
        for role, content in CHAT:
            await memory.aput(ChatMessage(role=MessageRole(role), content=content))
        VecVaultChatStore(vault=vault).add_message("agent-alice", ChatMessage(role="user", content=CANARY_CHAT))
        assert _scan(plain_dir) == []
    assert _scan(plain_dir) == []


def test_a_namespace_cannot_reuse_a_vector_collection_name(li_vault: Vault) -> None:
    VecVaultVectorStore(vault=li_vault, collection_name="llama_index/chat_store").add([])
    li_vault.collection("llama_index/chat_store", dim=2).add(vectors=[[1.0, 0.0]])
    with pytest.raises(ConfigurationError, match="collection"):
        VecVaultChatStore(vault=li_vault)


def test_from_params_owns_and_closes_its_vault(li_path: Path) -> None:
    key = os.urandom(32)
    store = VecVaultDBChatStore.from_params(li_path, key)
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.vault.kv("x").get(["k"])
