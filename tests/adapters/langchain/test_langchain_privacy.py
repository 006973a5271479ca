"""No document text or key bytes in logs, exceptions, reprs or the vault files, whatever the adapter does."""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_vecvault import VecVaultVectorStore
from vecvault import Vault, VecVaultError
from vecvault.keys import StaticKeyProvider

CANARY_TEXT = "CANARY-TEXT-7f3a9c-private-diagnosis"
CANARY_META = "CANARY-META-51be02-home-address"


def _key_forms(key: bytes) -> list[str]:
    return [key.hex(), repr(key)[2:-1], key.hex().upper()]


def _assert_clean(blob: str, key: bytes) -> None:
    assert CANARY_TEXT not in blob
    assert CANARY_META not in blob
    for form in _key_forms(key):
        assert form not in blob


def _failures(store: VecVaultVectorStore) -> list[BaseException]:
    """Provoke every kind of error the adapter can raise with canaries in play; return the exceptions."""
    calls = [
        lambda: store.add_texts([CANARY_TEXT, CANARY_TEXT], ids=["dup", "dup"]),
        lambda: store.add_texts([CANARY_TEXT], metadatas=[{"secret": {CANARY_META}}]),
        lambda: store.add_texts([CANARY_TEXT], metadatas=[{"secret": float("nan")}]),
        lambda: store.add_texts([CANARY_TEXT], metadatas=[{1: CANARY_META}]),
        lambda: store.add_texts([CANARY_TEXT, CANARY_TEXT], metadatas=[{"m": CANARY_META}]),
        lambda: store.similarity_search_by_vector([1.0, 2.0]),
        lambda: store.similarity_search(CANARY_TEXT, filter={"m": {"$regex": "x"}}),
        lambda: store.max_marginal_relevance_search(CANARY_TEXT, k=9, fetch_k=3),
        lambda: store.delete(),
        lambda: VecVaultVectorStore(DeterministicFakeEmbedding(size=3), vault=store.vault).add_texts([CANARY_TEXT]),
    ]
    caught: list[BaseException] = []
    for call in calls:
        with pytest.raises(VecVaultError) as info:
            call()
        caught.append(info.value)
    return caught


@pytest.mark.parametrize("file_encryption", [None, False])
async def test_no_text_or_key_in_logs_errors_reprs_or_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, file_encryption: bool | None
) -> None:
    caplog.set_level(logging.DEBUG)
    key = os.urandom(32)
    path = tmp_path / "private.db"
    store = VecVaultVectorStore(
        DeterministicFakeEmbedding(size=8), path=path, key=StaticKeyProvider(key), file_encryption=file_encryption
    )
    try:
        docs = [Document(page_content=f"{CANARY_TEXT} {i}", metadata={"m": CANARY_META, "i": i}) for i in range(5)]
        ids = store.add_documents(docs)
        await store.aadd_texts([CANARY_TEXT], [{"m": CANARY_META}], ids=["async"])
        assert store.similarity_search(CANARY_TEXT, k=2, filter={"m": CANARY_META})
        assert await store.amax_marginal_relevance_search(CANARY_TEXT, k=2)
        store.similarity_search_with_relevance_scores(CANARY_TEXT, k=3, score_threshold=0.999999)
        retriever = store.as_retriever(search_type="mmr")
        assert retriever.invoke(CANARY_TEXT)
        store.delete(ids[:2])
        await store.adelete(filter={"i": 3})
        errors = _failures(store)

        shown = [repr(store), str(store), repr(retriever), repr(store.vault), repr(store.collection)]
        shown += [repr(hit) for hit in store.collection.search(store.embeddings.embed_query("x"), k=2)]
        shown += [repr(rec) for rec in store.collection.get(ids[2:])]
        for exc in errors:
            shown += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        _assert_clean("\n".join(shown), key)
    finally:
        store.close()
    _assert_clean(caplog.text, key)
    for file in tmp_path.iterdir():
        data = file.read_bytes()
        assert CANARY_TEXT.encode() not in data
        assert CANARY_META.encode() not in data
        assert key not in data


@pytest.mark.parametrize("file_encryption", [None, False])
def test_wrong_key_error_holds_no_key(tmp_path: Path, file_encryption: bool | None) -> None:
    key, wrong = os.urandom(32), os.urandom(32)
    path = tmp_path / "k.db"
    with VecVaultVectorStore(
        DeterministicFakeEmbedding(size=4), path=path, key=key, file_encryption=file_encryption
    ) as store:
        store.add_texts([CANARY_TEXT])
    with pytest.raises(VecVaultError) as info:
        VecVaultVectorStore(DeterministicFakeEmbedding(size=4), path=path, key=wrong)
    text = str(info.value) + repr(info.value) + "".join(traceback.format_exception(info.value))
    _assert_clean(text, key)
    _assert_clean(text, wrong)
    # The right key still opens it: nothing was damaged or re-keyed by the failed attempt.
    with Vault.open(path, key=key) as vault:
        assert vault.collection("langchain").count() == 1


def test_repr_redacts_remote_credentials() -> None:
    from langchain_vecvault._convert import redact_location

    assert redact_location("libsql://user:pw@db.example.org:8080/x?authToken=tok") == "libsql://db.example.org:8080/x"
    assert redact_location("notes.db") == "notes.db"
