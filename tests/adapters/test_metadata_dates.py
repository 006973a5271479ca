"""One rule for dates and times in metadata, in the core and both adapters: stored as ISO 8601 strings."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from llama_index.core.schema import TextNode

from langchain_vecvault import VecVaultVectorStore as LangChainStore
from llama_index.vector_stores.vecvault import VecVaultVectorStore as LlamaIndexStore
from vecvault import Vault

WHEN = datetime.datetime(2024, 5, 17, 9, 30, tzinfo=datetime.timezone.utc)
DAY = datetime.date(2024, 5, 17)
EXPECTED = {"when": "2024-05-17T09:30:00Z", "day": "2024-05-17", "nested": {"at": ["09:30:00"]}}


def _metadata() -> dict[str, object]:
    return {"when": WHEN, "day": DAY, "nested": {"at": (datetime.time(9, 30),)}}


def test_the_core_stores_dates_as_iso_strings_and_filters_on_them(tmp_path: Path) -> None:
    with Vault.open(tmp_path / "v.db", key=os.urandom(32)) as vault:
        col = vault.collection("c", dim=2)
        col.add(texts=["a"], vectors=[[1.0, 0.0]], metadatas=[_metadata()], ids=["a"])
        assert col.get(["a"])[0].metadata == EXPECTED
        assert [r.id for r in col.get(filter={"day": {"$gte": "2024-01-01"}})] == ["a"]


def test_langchain_stores_dates_as_iso_strings(tmp_path: Path) -> None:
    with LangChainStore(
        embedding=DeterministicFakeEmbedding(size=4), path=tmp_path / "lc.db", key=os.urandom(32)
    ) as store:
        store.add_documents([Document(page_content="a", metadata=_metadata(), id="a")])
        assert store.get_by_ids(["a"])[0].metadata == EXPECTED


def test_llama_index_stores_dates_as_iso_strings(tmp_path: Path) -> None:
    store = LlamaIndexStore.from_params(path=tmp_path / "li.db", key=os.urandom(32))
    try:
        node = TextNode(text="a", id_="a", metadata=_metadata(), embedding=[1.0, 0.0])
        store.add([node])
        assert {k: v for k, v in store.get_nodes(["a"])[0].metadata.items() if k in EXPECTED} == EXPECTED
    finally:
        store.close()
