"""A collection remembers how it was created: metric, vector mode, model and index mode."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vecvault import ConfigurationError, Vault

DIM = 4


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def test_a_reopen_without_arguments_takes_the_stored_configuration(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=key) as vault:
        vault.collection("d", dim=DIM, metric="dot", model="m-1").add(vectors=np.eye(DIM), ids=list("abcd"))
        vault.collection("p", dim=DIM, metric="euclidean", vectors="plain").add(vectors=np.eye(DIM))
    with Vault.open(path, key=key) as vault:
        d = vault.collection("d")  # used to raise: "uses the 'dot' metric, not 'cosine'; pass metric='dot'"
        assert (d.dim, d.metric, d.model, d.vector_mode) == (DIM, "dot", "m-1", "sealed")
        assert d.search(np.eye(DIM)[1], k=1)[0].id == "b"
        p = vault.collection("p")
        assert (p.metric, p.vector_mode) == ("euclidean", "plain")
        for wrong in ({"metric": "cosine"}, {"dim": DIM + 1}, {"model": "m-2"}, {"vectors": "plain"}):
            with pytest.raises(ConfigurationError):
                vault.collection("d", **wrong)  # type: ignore[arg-type]


def test_the_index_mode_is_stored_and_an_explicit_one_switches_this_process_only(tmp_path: Path, key: bytes) -> None:
    pytest.importorskip("hnswlib")
    path = tmp_path / "v.db"
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, DIM)).astype(np.float32)
    with Vault.open(path, key=key) as vault:
        vault.collection("h", dim=DIM, index="hnsw").add(vectors=vectors)
        vault.collection("e", dim=DIM).add(vectors=vectors)
    with Vault.open(path, key=key) as vault:
        h = vault.collection("h")
        assert h.search(vectors[0], k=1)
        assert h._graphs.graph is not None  # searched through its graph, as created
        e = vault.collection("e")
        assert e.search(vectors[0], k=1)
        assert e._graphs.graph is None
        exact_now = vault.collection("h", index="exact")
        assert exact_now.search(vectors[0], k=1)
        assert exact_now._graphs.mode == "exact"
    with Vault.open(path, key=key) as vault:
        assert vault.collection("h")._graphs.mode == "hnsw"  # the switch was this process's only


def test_a_collection_from_before_the_stored_index_mode_opens_exact(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=key) as vault:
        vault.collection("c", dim=DIM).add(vectors=np.eye(DIM))
        storage = vault.core.storage
        with storage.transaction():
            storage.query("UPDATE vv_collections SET options = '{}' WHERE name = 'c'")
    with Vault.open(path, key=key) as vault:
        assert vault.collection("c")._graphs.mode == "exact"
