"""Agent memory: VectorMemory and Memory + VectorMemoryBlock over a vault, recalled in a later process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.memory import Memory, VectorMemory, VectorMemoryBlock
from sqlalchemy.ext.asyncio import create_async_engine
from tests.adapters.llama_index_adapter.helpers import HashEmbedding, run_python

from llama_index.vector_stores.vecvault import VecVaultVectorStore

CHAT = [
    ("user", "My favourite colour is teal, like the sea."),
    ("assistant", "Noted: your favourite colour is teal."),
    ("user", "I live in Lisbon near the river."),
    ("assistant", "Lisbon is lovely by the river."),
    ("user", "My dog is called Biscuit and loves walks."),
    ("assistant", "Biscuit sounds like a happy dog."),
    ("user", "Remind me to renew my passport in June."),
    ("assistant", "I will remind you about the passport in June."),
]

RECALL_VECTOR_MEMORY = """
import json, os, sys
from llama_index.core.memory import VectorMemory
from tests.adapters.llama_index_adapter.helpers import HashEmbedding
from llama_index.vector_stores.vecvault import VecVaultVectorStore

key = bytes.fromhex(os.environ["VECVAULT_TEST_KEY"])
with VecVaultVectorStore.from_params(path=sys.argv[1], key=key, collection_name="chat") as store:
    memory = VectorMemory.from_defaults(
        vector_store=store, embed_model=HashEmbedding(), retriever_kwargs={"similarity_top_k": 1}
    )
    print(json.dumps([m.content for m in memory.get(sys.argv[2])]))
"""

RECALL_BLOCK = """
import asyncio, json, os, sys
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import VectorMemoryBlock
from tests.adapters.llama_index_adapter.helpers import HashEmbedding
from llama_index.vector_stores.vecvault import VecVaultVectorStore

async def main():
    key = bytes.fromhex(os.environ["VECVAULT_TEST_KEY"])
    with VecVaultVectorStore.from_params(path=sys.argv[1], key=key, collection_name="agent") as store:
        question = [ChatMessage(role="user", content=sys.argv[2])]
        # One block per session: VectorMemoryBlock keeps the first session_id filter in its query_kwargs.
        results = []
        for session in ("alice", "bob"):
            block = VectorMemoryBlock(vector_store=store, embed_model=HashEmbedding(), similarity_top_k=1)
            results.append(await block.aget(question, session_id=session))
        mine, other = results
        print(json.dumps({"alice": mine, "bob": other}))

asyncio.run(main())
"""


@pytest.mark.multiprocess
def test_vector_memory_recalls_in_a_later_process(li_path: Path, li_key: bytes) -> None:
    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="chat") as store:
        memory = VectorMemory.from_defaults(
            vector_store=store, embed_model=HashEmbedding(), retriever_kwargs={"similarity_top_k": 1}
        )
        for role, content in CHAT:
            memory.put(ChatMessage(role=MessageRole(role), content=content))
        # One node per user turn (VectorMemory replaces the node as the assistant's reply arrives).
        assert len(store.get_nodes()) == 4
        recalled = [m.content for m in memory.get("what is my favourite colour")]
        assert recalled == [CHAT[0][1], CHAT[1][1]]

    out = run_python(
        RECALL_VECTOR_MEMORY, str(li_path), "where do I live", extra_env={"VECVAULT_TEST_KEY": li_key.hex()}
    )
    assert json.loads(out) == [CHAT[2][1], CHAT[3][1]]

    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="chat") as store:
        memory = VectorMemory.from_defaults(vector_store=store, embed_model=HashEmbedding())
        memory.reset()
        assert store.get_nodes() == []
        assert memory.get("what is my favourite colour") == []


@pytest.mark.multiprocess
async def test_memory_with_vector_block_recalls_in_a_later_process(
    li_path: Path, li_key: bytes, tmp_path: Path
) -> None:
    store = VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="agent")
    chat_engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
    try:
        block = VectorMemoryBlock(
            vector_store=store, embed_model=HashEmbedding(), similarity_top_k=1, retrieval_context_window=1
        )
        memory = Memory.from_defaults(
            async_engine=chat_engine,
            session_id="alice",
            token_limit=40,
            chat_history_token_ratio=0.5,
            token_flush_size=10,
            tokenizer_fn=str.split,
            memory_blocks=[block],
        )
        for role, content in CHAT:
            await memory.aput(ChatMessage(role=MessageRole(role), content=content))
        stored = store.get_nodes()
        assert stored  # older turns were flushed from short-term memory into the vault
        assert {node.metadata["session_id"] for node in stored} == {"alice"}
        assert any("teal" in node.get_content() for node in stored)
        # A node stored without a session carries session_id=None; filtering still works around it.
        await block.aput([ChatMessage(role="user", content="An anonymous note about teal paint.")])
        assert len(store.get_nodes()) == len(stored) + 1
        await memory.aput(ChatMessage(role="user", content="what is my favourite colour again"))
        messages = await memory.aget()
        assert "teal" in (messages[0].content or "")  # the block's recall, inserted as a system message
    finally:
        await chat_engine.dispose()
        store.close()

    out = run_python(
        RECALL_BLOCK, str(li_path), "what is my favourite colour", extra_env={"VECVAULT_TEST_KEY": li_key.hex()}
    )
    recalled = json.loads(out)
    assert "teal" in recalled["alice"]
    assert "anonymous" not in recalled["alice"]
    assert recalled["bob"] == ""
