"""Several processes and threads writing to one sqld database at once: nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

from vecvault import Vault

from ..test_multiprocess import _create, _finish, _spawn

pytestmark = [pytest.mark.remote, pytest.mark.multiprocess]


def test_writer_processes_and_a_reader_on_the_server(remote_url: str) -> None:
    key = os.urandom(32)
    _create(remote_url, key)  # the workers take a path or a URL
    writers, size, batches = 3, 4, 15
    procs = [
        _spawn(remote_url, key, "writer", f"w{n}", size=size, batches=batches, shared=True, seed=n)
        for n in range(writers)
    ]
    procs.append(_spawn(remote_url, key, "reader", "r", size=1, seconds=2.0))
    results = _finish(procs)
    assert results[:writers] == [{"written": size * batches}] * writers
    expected = {f"w{n}-{b}-{i}" for n in range(writers) for b in range(batches) for i in range(size)} | {"shared"}
    with Vault.open(remote_url, key=key) as vault:
        records = vault.collection("c").get(include_vectors=False)
    assert len(records) == len(expected)
    assert {r.id for r in records} == expected


def test_two_vaults_of_one_process_write_at_once(open_remote: Callable[..., Vault]) -> None:
    key = os.urandom(32)
    vaults = [open_remote(key=key), open_remote(key=key)]
    vaults[0].collection("c", dim=2)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            col = vaults[n].collection("c")
            for b in range(20):
                col.add(texts=[f"{n}-{b}"], vectors=[[1.0, float(b)]], ids=[f"{n}-{b}"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted(vaults[1].collection("c").ids()) == sorted(f"{n}-{b}" for n in range(2) for b in range(20))
