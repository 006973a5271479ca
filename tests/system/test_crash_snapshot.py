"""Crash safety of the mirror snapshot: a process killed while storing one leaves an openable vault.

A child process (``python -c``) on a real vault file stores snapshots in a loop (``Collection.compact``)
and is killed: with ``os._exit`` after the K-th chunk of a snapshot is written (inside its transaction),
and with SIGKILL at random times. After every kill the parent opens the vault, checks every vector
against the data it wrote, and that the next open is served by a whole snapshot again.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vecvault import Vault
from vecvault.keys import EnvKeyProvider

pytestmark = [pytest.mark.multiprocess]

DIM = 64
N = 20_000

COMPACT = """
import os, sys
from vecvault import Vault
from vecvault.keys import EnvKeyProvider
from vecvault.storage import snapshots

exit_after = int(sys.argv[2])
real = snapshots.SnapshotsSQL.save_snapshot

def save_snapshot(self, collection, chunks):
    def counted():
        for number, chunk in enumerate(chunks):
            if exit_after and number == exit_after:
                os._exit(70)  # inside the snapshot's transaction, some chunks written
            yield chunk
    real(self, collection, counted())

snapshots.SnapshotsSQL.save_snapshot = save_snapshot
with Vault.open(sys.argv[1], key=EnvKeyProvider(), create=False) as v:
    col = v.collection("notes")
    col.count()
    print("ready", flush=True)
    for round in range(10**6):
        assert col.compact()
        print(round, flush=True)
"""


def _check(path: Path, key: EnvKeyProvider, vectors: np.ndarray) -> bool:
    """Every vector as written; return whether the snapshot served the open."""
    expected = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    with Vault.open(path, key=key, create=False) as vault:
        col = vault.collection("notes")
        ids, got = col.vectors()
        order = np.argsort(np.array([int(i[1:]) for i in ids]))
        assert len(ids) == N
        assert np.allclose(got[order], expected, atol=1e-6)
        return col._mirror.snapshots.loaded_from_snapshot


def test_a_snapshot_write_killed_at_any_point_leaves_an_openable_vault(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECVAULT_KEY", env["VECVAULT_KEY"])
    key = EnvKeyProvider()
    path = tmp_path / "v.db"
    vectors = np.random.default_rng(0).standard_normal((N, DIM)).astype(np.float32)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("notes", dim=DIM)
        col.add(vectors=vectors, ids=[f"r{i}" for i in range(N)])
        assert col.compact()
    assert _check(path, key, vectors)
    # os._exit after the K-th chunk, inside the transaction: the previous snapshot survives whole.
    for exit_after in (1, 3, 5):  # of 6 chunks (a head and five of vectors)
        proc = subprocess.run(
            [sys.executable, "-c", COMPACT, str(path), str(exit_after)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 70, proc.stderr
        assert _check(path, key, vectors), "the snapshot stored before the killed write did not serve"
    # SIGKILL at random moments of a loop of snapshot writes.
    rng = random.Random(1)
    interrupted = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", COMPACT, str(path), "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, err
        interrupted += proc.returncode == -signal.SIGKILL
        _check(path, key, vectors)  # a half-written snapshot never serves: a whole one, or the records
        with Vault.open(path, key=key, create=False) as vault:
            assert vault.verify().ok
    assert interrupted >= 4
    assert _check(path, key, vectors)
