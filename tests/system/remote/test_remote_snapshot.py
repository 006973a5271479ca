"""A vault on a libSQL server opens from its sealed snapshot: a few large blobs cross the wire, not every record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from vecvault import Vault

pytestmark = pytest.mark.remote

DIM = 16
N = 3000


def test_a_reopen_over_the_server_reads_the_snapshot_and_its_delta(open_remote: Callable[..., Vault]) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    with open_remote() as vault:
        col = vault.collection("c", dim=DIM)
        for start in range(0, N, 1000):
            col.add(vectors=vectors[start : start + 1000], ids=[f"r{i}" for i in range(start, start + 1000)])
        col.search(vectors[0], k=1)  # the load from the records stores the snapshot
        assert vault.core.storage.snapshot_rev("c") is not None
        col.add(vectors=-vectors[:10], ids=[f"r{i}" for i in range(10)])  # the delta
    statements: list[str] = []
    with open_remote(tracer=statements.append) as vault:
        col = vault.collection("c")
        assert col.search(-vectors[4], k=1)[0].id == "r4"
        assert col._mirror.snapshots.loaded_from_snapshot
        ids, got = col.vectors()
    # Not one statement per page of records: the snapshot's chunks, the delta and the check.
    assert not any("FROM vv_records WHERE +collection" in s for s in statements)
    expected = np.concatenate((-vectors[:10], vectors[10:]))
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    order = np.argsort([int(i[1:]) for i in ids])
    assert np.allclose(got[order], expected, atol=1e-6)


def test_a_tampered_snapshot_on_the_server_falls_back_to_the_records(open_remote: Callable[..., Vault]) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    with open_remote() as vault:
        col = vault.collection("c", dim=DIM)
        col.add(vectors=vectors, ids=[f"r{i}" for i in range(N)])
        col.search(vectors[0], k=1)
        storage: Any = vault.core.storage
        with storage.transaction():
            storage.query("UPDATE vv_snapshots SET blob = zeroblob(length(blob)) WHERE chunk = 1")
    with open_remote() as vault:
        col = vault.collection("c")
        assert col.search(vectors[7], k=1)[0].id == "r7"
        assert not col._mirror.snapshots.loaded_from_snapshot
