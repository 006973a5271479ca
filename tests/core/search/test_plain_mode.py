"""The ``plain`` vector mode: libSQL ranks inside SQL, and it must agree with the sealed exact index."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecvault import ConfigurationError, Vault


def _data(n: int = 300, dim: int = 8, seed: int = 4) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    r = random.Random(seed)
    ids = [f"r{i}" for i in range(n)]
    metadatas = [{"group": r.choice(["a", "b", "c"]), "n": i} for i in range(n)]
    return ids, rng.normal(size=(n, dim)).astype(np.float32), metadatas


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_plain_and_sealed_modes_return_the_same_results(vault: Vault, metric: str) -> None:
    ids, vectors, metadatas = _data()
    texts = [f"t{i}" for i in ids]
    sealed = vault.collection("sealed", dim=8, metric=metric)
    plain = vault.collection("plain", dim=8, metric=metric, vectors="plain")
    for col in (sealed, plain):
        col.add(texts=texts, vectors=vectors, metadatas=metadatas, ids=ids)
    rng = np.random.default_rng(9)
    for q in rng.normal(size=(10, 8)).astype(np.float32):
        for flt in (None, {"group": "b"}, {"n": {"$lt": 5}}, {"group": "zzz"}):
            a, b = sealed.search(q, k=10, filter=flt), plain.search(q, k=10, filter=flt)
            assert [h.id for h in a] == [h.id for h in b]
            assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)
            assert [h.text for h in a] == [h.text for h in b]
        a_mmr = sealed.search_mmr(q, k=4, fetch_k=12, lambda_mult=0.4)
        b_mmr = plain.search_mmr(q, k=4, fetch_k=12, lambda_mult=0.4)
        assert [h.id for h in a_mmr] == [h.id for h in b_mmr]


def test_plain_mode_writes_deletes_and_clears(vault: Vault) -> None:
    col = vault.collection("p", dim=2, vectors="plain")
    col.add(texts=["x", "y"], vectors=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"k": 1}, {"k": 2}], ids=["x", "y"])
    col.add(texts=["x2"], vectors=[[0.0, 1.0]], ids=["x"])  # upsert moves x
    hits = col.search([0.0, 1.0], k=2)
    assert {h.id for h in hits} == {"x", "y"}
    assert [h.score for h in hits] == pytest.approx([1.0, 1.0])
    assert col.get(["x"])[0].text == "x2"
    assert col.delete(ids=["x"]) == 1
    assert [h.id for h in col.search([0.0, 1.0], k=5)] == ["y"]
    assert col.delete(filter={"k": 2}) == 1
    assert col.search([0.0, 1.0], k=5) == []
    col.add(texts=["z"], vectors=[[1.0, 1.0]], ids=["z"])
    assert col.clear() == 1
    assert col.search([1.0, 1.0], k=5) == []
    assert vault.drop_collection("p")


def test_plain_mode_refused_without_file_encryption_unless_opted_in(tmp_path: Path, master_key: bytes) -> None:
    with Vault.open(tmp_path / "v.db", key=master_key, file_encryption=False) as vault:
        with pytest.raises(ConfigurationError, match="allow_plaintext_vectors=True"):
            vault.collection("p", dim=2, vectors="plain")
        col = vault.collection("p", dim=2, vectors="plain", allow_plaintext_vectors=True)
        col.add(texts=["secret text"], vectors=[[0.25, 0.5]], ids=["s"])
    con = sqlite3.connect(tmp_path / "v.db")
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE name LIKE 'vv_plain_%'")]
    (blob,) = con.execute(f'SELECT embedding FROM "{tables[0]}"').fetchone()
    con.close()
    assert np.frombuffer(blob, dtype="<f4").tolist() == [0.25, 0.5]  # the documented leak, exactly


def test_plain_mode_rejects_unsupported_metric_and_misplaced_native_index(vault: Vault) -> None:
    with pytest.raises(ConfigurationError, match="cosine and euclidean"):
        vault.collection("d", dim=2, metric="dot", vectors="plain")
    with pytest.raises(ConfigurationError, match="native_index"):
        vault.collection("s", dim=2, native_index=True)


def test_native_diskann_index_finds_the_neighbours(vault: Vault) -> None:
    ids, vectors, metadatas = _data(n=200)
    col = vault.collection("ann", dim=8, vectors="plain", native_index=True)
    col.add(texts=ids, vectors=vectors, metadatas=metadatas, ids=ids)
    exact = vault.collection("exact", dim=8)
    exact.add(texts=ids, vectors=vectors, ids=ids)
    recall = []
    for q in vectors[:20]:
        truth = {h.id for h in exact.search(q, k=10)}
        found = {h.id for h in col.search(q, k=10)}
        recall.append(len(truth & found) / 10)
    assert np.mean(recall) >= 0.9
    assert col.search(vectors[5], k=1)[0].id == "r5"
    assert len(col.search(vectors[0], k=10, filter={"group": "a"})) == 10  # filtered: exact in SQL
