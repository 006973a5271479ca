"""Many processes on one local vault file: readers see committed writes, writers wait, nothing is lost.

Each worker is a real Python process (``sys.executable``) running :data:`WORKER` on the same file. Any
exception in a worker (a surfaced "database is locked", an IntegrityError, a lost record) makes it exit
non-zero with the message on stderr, which fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vecvault import Vault

pytestmark = pytest.mark.multiprocess

CORE = str(Path(__file__).resolve().parents[2] / "core")
DIM = 4
_WORKER_TIMEOUT_S = 120

WORKER = r"""
import json, os, sys, time
import numpy as np
from vecvault import Vault

path, role, name, raw = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
args = json.loads(raw)
key = bytes.fromhex(os.environ["VV_TEST_KEY"])
go = args.get("go")
while go and not os.path.exists(go):  # start every worker at once, for real contention
    time.sleep(0.005)
rng = np.random.default_rng(args.get("seed", 0))
with Vault.open(path, key=key) as vault:
    col = vault.collection("c", dim=4)
    if role == "writer":
        for b in range(args["batches"]):
            ids = [f"{name}-{b}-{i}" for i in range(args["size"])]
            col.add(texts=[f"text of {i}" for i in ids], vectors=rng.random((len(ids), 4)) + 0.01,
                    metadatas=[{"writer": name, "batch": b} for _ in ids], ids=ids)
            if args.get("shared"):  # every writer also upserts the same ids: last writer wins, no duplicates
                col.add(texts=[f"shared by {name}"], vectors=[[1.0, 1.0, 1.0, 1.0]], ids=["shared"])
        print(json.dumps({"written": args["batches"] * args["size"]}))
    elif role == "reader":
        size, seen, counts = args["size"], 0, []
        deadline = time.monotonic() + args["seconds"]
        while time.monotonic() < deadline:
            ids, _ = col.vectors()            # the in-memory index, caught up from the revision counters
            count = col.count()               # one SQL count
            hits = col.search([0.5, 0.5, 0.5, 0.5], k=3)
            for n in (len(ids), count):
                if n % size:
                    raise AssertionError(f"saw {n} records: a batch of {size} was seen half-written")
                if n < seen:
                    raise AssertionError(f"went back from {seen} to {n} records")
                seen = n
            for h in hits:
                if not h.text.startswith(("text of ", "shared by ")):
                    raise AssertionError("a hit's text did not open")
            counts.append(count)
        print(json.dumps({"last": seen, "reads": len(counts)}))
    elif role == "mutate":
        col.add(texts=["from child"], vectors=[[0.0, 0.0, 0.0, 1.0]], metadatas=[{"k": "child"}], ids=["child-1"])
        col.delete(args["delete"])
        print(json.dumps({"ok": True}))
"""


def _spawn(path: Path | str, key: bytes, role: str, name: str, **args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "VV_TEST_KEY": key.hex(), "PYTHONPATH": CORE}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), role, name, json.dumps(args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(procs: list[subprocess.Popen[str]]) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=_WORKER_TIMEOUT_S)
            assert proc.returncode == 0, f"worker failed ({proc.returncode}): {err.strip()[-2000:]}"
            assert "locked" not in err.lower(), err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def _create(path: Path | str, key: bytes) -> None:
    with Vault.open(path, key=key) as vault:
        vault.collection("c", dim=DIM)


def test_one_writer_and_readers(tmp_path: Path) -> None:
    path, key, go = tmp_path / "v.db", os.urandom(32), tmp_path / "go"
    _create(path, key)
    size, batches = 7, 40
    procs = [_spawn(path, key, "reader", f"r{i}", size=size, seconds=4.0, go=str(go)) for i in range(3)]
    procs.insert(0, _spawn(path, key, "writer", "w", size=size, batches=batches, go=str(go), seed=1))
    go.touch()
    writer, *readers = _finish(procs)
    assert writer == {"written": size * batches}
    assert all(int(str(r["reads"])) > 0 for r in readers)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c")
        assert col.count() == size * batches
        assert {r.id for r in col.get(include_vectors=False)} == {
            f"w-{b}-{i}" for b in range(batches) for i in range(size)
        }


def test_several_writers_lose_nothing(tmp_path: Path) -> None:
    path, key, go = tmp_path / "v.db", os.urandom(32), tmp_path / "go"
    _create(path, key)
    writers, size, batches = 4, 5, 25
    procs = [
        _spawn(path, key, "writer", f"w{n}", size=size, batches=batches, shared=True, go=str(go), seed=n)
        for n in range(writers)
    ]
    go.touch()
    results = _finish(procs)
    assert all(r == {"written": size * batches} for r in results)
    expected = {f"w{n}-{b}-{i}" for n in range(writers) for b in range(batches) for i in range(size)} | {"shared"}
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c")
        records = col.get()
        assert len(records) == len(expected)  # no duplicate, no loss
        assert {r.id for r in records} == expected
        by_id = {r.id: r for r in records}
        assert by_id["shared"].text in {f"shared by w{n}" for n in range(writers)}
        assert by_id["w3-24-4"].metadata == {"writer": "w3", "batch": 24}
        ids, matrix = col.vectors()
        assert sorted(ids) == sorted(expected)
        assert matrix.shape == (len(expected), DIM)


def test_the_next_query_sees_another_process_write(open_vault: Callable[..., Vault], vault_path: Path) -> None:
    key = os.urandom(32)
    vault = open_vault(key=key)
    col = vault.collection("c", dim=DIM)
    col.add(
        texts=["a", "b"], vectors=np.eye(DIM, dtype=np.float32)[:2], metadatas=[{"k": "a"}, {"k": "b"}], ids=["a", "b"]
    )
    assert [h.id for h in col.search([1.0, 0.0, 0.0, 0.0], k=1)] == ["a"]  # index loaded in this process
    assert [r.id for r in col.get(filter={"k": "b"})] == ["b"]  # metadata loaded too
    _finish([_spawn(vault_path, key, "mutate", "m", delete=["a"])])
    assert [h.id for h in col.search([0.0, 0.0, 0.0, 1.0], k=1)] == ["child-1"]
    assert "a" not in {h.id for h in col.search([1.0, 0.0, 0.0, 0.0], k=5)}
    assert [r.id for r in col.get(filter={"k": "child"})] == ["child-1"]
    assert col.count() == 2


def test_a_reader_process_sees_this_process_write(open_vault: Callable[..., Vault], vault_path: Path) -> None:
    key = os.urandom(32)
    col = open_vault(key=key).collection("c", dim=DIM)
    col.add(texts=["text of x"], vectors=[[1.0, 0.0, 0.0, 0.0]], ids=["x"])
    start = time.monotonic()
    reader = _spawn(vault_path, key, "reader", "r", size=1, seconds=0.5)
    (result,) = _finish([reader])
    assert result["last"] == 1
    assert time.monotonic() - start < _WORKER_TIMEOUT_S
