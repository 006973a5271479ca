"""The store inside LangChain: the indexing API, an LCEL RAG chain, concurrent async writers, persistence."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.indexing import InMemoryRecordManager, aindex, index
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from langchain_vecvault import VecVaultVectorStore
from vecvault import Vault

# -- LangChain's indexing API ------------------------------------------------------------------------------


def _docs(version: str) -> list[Document]:
    return [
        Document(page_content=f"chapter one, {version}", metadata={"source": "book.txt", "part": 1}),
        Document(page_content="chapter two", metadata={"source": "book.txt", "part": 2}),
        Document(page_content="a separate note", metadata={"source": "note.txt"}),
    ]


def _record_manager() -> InMemoryRecordManager:
    manager = InMemoryRecordManager(namespace="vecvault/langchain-test")
    manager.create_schema()
    return manager


def test_indexing_api_incremental_and_full(store: VecVaultVectorStore) -> None:
    manager = _record_manager()
    opts = {"source_id_key": "source", "key_encoder": "sha256"}
    first = index(_docs("v1"), manager, store, cleanup="incremental", **opts)
    assert first == {"num_added": 3, "num_updated": 0, "num_skipped": 0, "num_deleted": 0}
    ids_before = sorted(store.collection.ids())

    again = index(_docs("v1"), manager, store, cleanup="incremental", **opts)
    assert again == {"num_added": 0, "num_updated": 0, "num_skipped": 3, "num_deleted": 0}
    assert sorted(store.collection.ids()) == ids_before

    changed = index(_docs("v2"), manager, store, cleanup="incremental", **opts)
    assert changed == {"num_added": 1, "num_updated": 0, "num_skipped": 2, "num_deleted": 1}
    texts = sorted(d.page_content for d in store.get_by_ids(store.collection.ids()))
    assert texts == ["a separate note", "chapter one, v2", "chapter two"]

    only_note = [d for d in _docs("v2") if d.metadata["source"] == "note.txt"]
    full = index(only_note, manager, store, cleanup="full", **opts)
    assert full == {"num_added": 0, "num_updated": 0, "num_skipped": 1, "num_deleted": 2}
    assert [d.page_content for d in store.get_by_ids(store.collection.ids())] == ["a separate note"]
    assert store.similarity_search("chapter two", k=4)[0].page_content == "a separate note"

    index(_docs("v3"), manager, store, cleanup="incremental", **opts)
    book_only = [d for d in _docs("v4") if d.metadata["source"] == "book.txt"]
    scoped = index(book_only, manager, store, cleanup="scoped_full", **opts)
    assert (scoped["num_added"], scoped["num_skipped"], scoped["num_deleted"]) == (1, 1, 1)
    texts = sorted(d.page_content for d in store.get_by_ids(store.collection.ids()))
    assert texts == ["a separate note", "chapter one, v4", "chapter two"]


async def test_async_indexing_api(store: VecVaultVectorStore) -> None:
    manager = InMemoryRecordManager(namespace="vecvault/langchain-async")
    await manager.acreate_schema()
    opts = {"source_id_key": "source", "key_encoder": "sha256"}
    first = await aindex(_docs("v1"), manager, store, cleanup="incremental", **opts)
    assert first["num_added"] == 3
    again = await aindex(_docs("v1"), manager, store, cleanup="incremental", **opts)
    assert again["num_skipped"] == 3
    assert again["num_added"] == 0
    changed = await aindex(_docs("v2"), manager, store, cleanup="full", **opts)
    assert (changed["num_added"], changed["num_deleted"]) == (1, 1)
    assert store.collection.count() == 3


# -- an LCEL RAG chain -------------------------------------------------------------------------------------

FACTS = [
    ("Vecvault seals every field with AES-256-GCM.", {"topic": "crypto"}),
    ("The master key lives in the OS keychain.", {"topic": "keys"}),
    ("Filters are evaluated on decrypted metadata in memory.", {"topic": "filters"}),
]


def _rag_chain(store: VecVaultVectorStore, prompts: list[str]):  # type: ignore[no-untyped-def]
    retriever = store.as_retriever(search_kwargs={"k": 1, "filter": {"topic": {"$in": ["keys", "crypto"]}}})
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context only.\n\nContext:\n{context}"), ("human", "{question}")]
    )

    def remember(value: PromptValue) -> PromptValue:
        prompts.append(value.to_string())
        return value

    def join(docs: list[Document]) -> str:
        return "\n".join(doc.page_content for doc in docs)

    model = FakeListChatModel(responses=["In the OS keychain."])
    return (
        {"context": retriever | join, "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(remember)
        | model
        | StrOutputParser()
    )


def test_rag_chain_end_to_end(store: VecVaultVectorStore) -> None:
    store.add_texts([t for t, _ in FACTS], [m for _, m in FACTS])
    prompts: list[str] = []
    answer = _rag_chain(store, prompts).invoke("The master key lives in the OS keychain.")
    assert answer == "In the OS keychain."
    assert len(prompts) == 1
    assert "Context:\nThe master key lives in the OS keychain." in prompts[0]
    assert "decrypted metadata" not in prompts[0]


async def test_rag_chain_async(store: VecVaultVectorStore) -> None:
    await store.aadd_texts([t for t, _ in FACTS], [m for _, m in FACTS])
    prompts: list[str] = []
    # The filter excludes the exact match, so the closest allowed fact must come back instead.
    answer = await _rag_chain(store, prompts).ainvoke("Filters are evaluated on decrypted metadata in memory.")
    assert answer == "In the OS keychain."
    assert "decrypted metadata" not in prompts[0].split("Context:")[1].split("Human:")[0]


# -- concurrency -------------------------------------------------------------------------------------------


async def test_fifty_concurrent_async_writers(tmp_path: Path, lc_key: bytes) -> None:
    threads: set[int] = set()
    vault = Vault.open(tmp_path / "busy.db", key=lc_key, tracer=lambda _sql: threads.add(threading.get_ident()))
    try:
        store = VecVaultVectorStore(DeterministicFakeEmbedding(size=8), vault=vault)
        threads.clear()

        async def writer(i: int) -> list[str]:
            ids = await store.aadd_texts(
                [f"writer {i} first", f"writer {i} second"], [{"w": i}, {"w": i}], ids=[f"{i}-a", f"{i}-b"]
            )
            hits = await store.asimilarity_search(f"writer {i} first", k=1, filter={"w": i})
            assert [h.id for h in hits] == [f"{i}-a"]
            return ids

        results = await asyncio.gather(*(writer(i) for i in range(50)))
        everything = await store.aget_by_ids([f"{i}-{s}" for i in range(50) for s in "ab"])
        # Every SQL statement of the async calls ran off the event loop's thread.
        assert threads
        assert threading.get_ident() not in threads
        assert results == [[f"{i}-a", f"{i}-b"] for i in range(50)]
        assert len(everything) == 100
        assert all(d.metadata["w"] == int(d.id.split("-")[0]) for d in everything)
        assert store.collection.count() == 100
    finally:
        vault.close()


async def test_concurrent_writers_and_deleters_keep_a_consistent_store(store: VecVaultVectorStore) -> None:
    await store.aadd_texts([f"t{i}" for i in range(40)], ids=[f"k{i}" for i in range(40)])

    async def churn(i: int) -> None:
        await store.adelete([f"k{i}"])
        await store.aadd_texts([f"new {i}"], ids=[f"n{i}"])
        await store.amax_marginal_relevance_search("t", k=3)

    await asyncio.gather(*(churn(i) for i in range(40)))
    assert sorted(store.collection.ids()) == sorted(f"n{i}" for i in range(40))


# -- persistence -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("file_encryption", [None, False])
def test_persists_across_close_and_reopen(tmp_path: Path, lc_key: bytes, file_encryption: bool | None) -> None:
    emb = DeterministicFakeEmbedding(size=8)
    path = tmp_path / "persist.db"
    with VecVaultVectorStore.from_texts(
        ["kept", "deleted", "changed"],
        emb,
        metadatas=[{"n": 1}, {"n": 2}, {"n": 3}],
        ids=["a", "b", "c"],
        path=path,
        key=lc_key,
        file_encryption=file_encryption,
        collection_name="persist",
        metric="dot",
    ) as store:
        store.delete(["b"])
        store.add_texts(["changed again"], [{"n": 4}], ids=["c"])
    with VecVaultVectorStore(emb, path=path, key=lc_key, collection_name="persist", metric="dot") as reopened:
        assert reopened.vault.file_encrypted is (file_encryption is None)
        assert reopened.get_by_ids(["a", "b", "c"]) == [
            Document(page_content="kept", metadata={"n": 1}, id="a"),
            Document(page_content="changed again", metadata={"n": 4}, id="c"),
        ]
        assert reopened.similarity_search("kept", k=1)[0].id == "a"
        assert reopened.similarity_search("x", k=5, filter={"n": {"$gt": 1}})[0].id == "c"
