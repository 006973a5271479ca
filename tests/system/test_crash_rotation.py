"""Crash safety: a process killed during data-key rotation, add or delete never loses committed data.

Each test runs a child process (``python -c``) on a real vault file and kills it, with ``os._exit`` inside
a batch transaction (through rotate_data_keys' batch_hook seam) or with SIGKILL at random times;
after every kill the parent opens the vault and checks every record.
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

DIM = 4
N = 5000
BATCH = 100

ROTATE = """
import os, sys
from vecvault import Vault, lifecycle
from vecvault.keys import EnvKeyProvider
exit_after = int(sys.argv[3]) if len(sys.argv) > 3 else 0
batches = []

def hook():
    # Inside a batch transaction, after its writes and before its commit: a crash at the worst moment.
    batches.append(1)
    if exit_after and len(batches) >= exit_after:
        os._exit(70)

with Vault.open(sys.argv[1], key=EnvKeyProvider(), create=False) as v:
    print("start", flush=True)
    lifecycle.rotate_data_keys(
        v.core, "notes", batch_size=int(sys.argv[2]), progress=lambda d, t: print(d, flush=True), batch_hook=hook
    )
print("done", flush=True)
"""

ADD = """
import sys
import numpy as np
from vecvault import Vault
from vecvault.keys import EnvKeyProvider
with Vault.open(sys.argv[1], key=EnvKeyProvider(), create=False) as v:
    col = v.collection("notes")
    for b in range(int(sys.argv[2]), 10**6):
        ids = [f"b{b}-{i}" for i in range(200)]
        col.add(texts=[f"batch {b}"] * 200, vectors=np.ones((200, 4)), ids=ids, metadatas=[{"b": b}] * 200)
        print(b, flush=True)
"""

DELETE = """
import sys
from vecvault import Vault
from vecvault.keys import EnvKeyProvider
with Vault.open(sys.argv[1], key=EnvKeyProvider(), create=False) as v:
    col = v.collection("notes")
    for b in range(10**6):
        if not col.delete(filter={"b": b}) and b > int(sys.argv[2]):
            break
        print(b, flush=True)
"""


def _key(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> EnvKeyProvider:
    monkeypatch.setenv("VECVAULT_KEY", env["VECVAULT_KEY"])
    return EnvKeyProvider()


def _child(script: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _kill_after(proc: subprocess.Popen[str], seconds: float) -> list[str]:
    """Wait for the child's first line, SIGKILL it ``seconds`` later; return every line it printed."""
    first = proc.stdout.readline() if proc.stdout else ""
    time.sleep(seconds)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    return [first.strip(), *out.split()]


def _check_all_readable(path: Path, key: EnvKeyProvider, expected: dict[str, str]) -> dict[str, int]:
    with Vault.open(path, key=key, create=False) as vault:
        report = vault.verify()
        assert report.ok, report.failures[:3]
        records = vault.collection("notes").get(include_vectors=True)
        assert {r.id: r.text for r in records} == expected
        return {str(k.key_id): k.records for k in vault.key_info() if k.scope == "notes"}


@pytest.mark.slow
def test_killed_rotation_resumes_and_never_loses_a_record(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v.db"
    key = _key(env, monkeypatch)
    rng = np.random.default_rng(0)
    expected = {f"r{i}": f"text {i}" for i in range(N)}
    with Vault.open(path, key=key) as vault:
        col = vault.collection("notes", dim=DIM)
        for start in range(0, N, 1000):
            ids = [f"r{i}" for i in range(start, start + 1000)]
            col.add(texts=[expected[i] for i in ids], vectors=rng.random((1000, DIM)), ids=ids)
        first_key = next(k.key_id for k in vault.key_info() if k.scope == "notes")
    kills = 0
    # os._exit inside the N-th batch transaction (after its writes, before its commit).
    for after in (1, 3, 2):
        proc = _child(ROTATE, [str(path), str(BATCH), str(after)], env)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 70, err
        kills += 1
        _check_all_readable(path, key, expected)
    # SIGKILL at random moments. A child that finished before its kill is not counted: the next one
    # starts a new rotation, so there is always work to interrupt.
    rnd = random.Random(1234)
    for _ in range(60):
        if kills >= 10:
            break
        proc = _child(ROTATE, [str(path), str(BATCH)], env)
        lines = _kill_after(proc, rnd.uniform(0.0, 0.2))
        if "done" not in lines:
            kills += 1
        counts = _check_all_readable(path, key, expected)
        assert sum(counts.values()) == N
    with Vault.open(path, key=key, create=False) as vault:
        reports = vault.rotate_data_keys("notes", batch_size=BATCH)
        infos = {k.key_id: k for k in vault.key_info() if k.scope == "notes"}
        assert vault.verify().ok
    assert kills >= 10
    assert infos[first_key].state == "destroyed"
    assert infos[first_key].records == 0
    live = [k for k in infos.values() if k.state != "destroyed"]
    assert len(live) == 1
    assert live[0].state == "primary"
    assert live[0].records == N
    assert all(k.records == 0 for k in infos.values() if k.state == "destroyed")
    assert reports[0].primary_key_id == live[0].key_id
    _check_all_readable(path, key, expected)


def _batches(path: Path, key: EnvKeyProvider) -> dict[int, int]:
    with Vault.open(path, key=key, create=False) as vault:
        assert vault.verify().ok
        out: dict[int, int] = {}
        for record in vault.collection("notes").get(include_vectors=False):
            b = int(record.metadata["b"])
            assert record.text == f"batch {b}"
            out[b] = out.get(b, 0) + 1
        return out


@pytest.mark.slow
def test_killed_add_and_delete_are_all_or_nothing_per_batch(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v.db"
    key = _key(env, monkeypatch)
    with Vault.open(path, key=key) as vault:
        vault.collection("notes", dim=DIM)
    rnd = random.Random(99)
    committed: set[int] = set()
    next_batch = 0
    for _ in range(5):
        lines = _kill_after(_child(ADD, [str(path), str(next_batch)], env), rnd.uniform(0.05, 0.4))
        committed.update(int(x) for x in lines if x.isdigit())
        counts = _batches(path, key)
        assert all(n == 200 for n in counts.values()), counts  # each batch whole or absent
        assert committed <= set(counts)  # every batch the child saw committed is there
        next_batch = max(counts, default=-1) + 1
    assert len(committed) >= 3
    top = max(committed)
    deleted: set[int] = set()
    for _ in range(4):
        lines = _kill_after(_child(DELETE, [str(path), str(top)], env), rnd.uniform(0.0, 0.2))
        deleted.update(int(x) for x in lines if x.isdigit())
        counts = _batches(path, key)
        assert all(n == 200 for n in counts.values()), counts
        assert not deleted & set(counts)  # a delete the child saw return is durable
