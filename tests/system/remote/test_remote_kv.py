"""The sealed key-value store on a real libSQL server (sqld): behaviour, two clients, rotation, what it holds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from langchain_vecvault import VecVaultByteStore, VecVaultChatMessageHistory
from vecvault import Vault

from .conftest import SqldServer
from .test_remote_vault import _files_bytes, _server_bytes

pytestmark = pytest.mark.remote

CANARY_KEY = "/srv/secret/canary-remote-key.md"
CANARY_VALUE = b"marmot-canary-remote-value-61de"


def test_kv_on_the_server(open_remote: Callable[..., Vault]) -> None:
    vault = open_remote()
    kv = vault.kv("docs")
    kv.set([(f"k{i}", bytes([i % 256]) * 50) for i in range(300)])  # more rows than one multi-row statement
    assert kv.get(["k0", "k299", "missing"]) == [b"\x00" * 50, bytes([43]) * 50, None]
    assert len(kv) == 300 and sorted(kv.keys(prefix="k29")) == ["k29", *[f"k29{i}" for i in range(10)]]
    assert kv.delete(["k0", "k1"]) == 2 and len(kv) == 298
    with kv.atomic() as tx:
        (old,) = tx.get(["counter"])
        tx.set([("counter", b"1" if old is None else old + b"1")])
    assert kv.get(["counter"]) == [b"1"]
    assert vault.verify().ok


def test_two_clients_and_a_rotation_between_them(open_remote: Callable[..., Vault]) -> None:
    first, second = open_remote(), open_remote()
    a, b = first.kv("shared"), second.kv("shared")
    a.set([("k", b"from a")])
    assert b.get(["k"]) == [b"from a"]
    (report,) = second.rotate_data_keys("shared")
    assert report.resealed == 1
    assert a.get(["k"]) == [b"from a"]  # found under the lookup of a key the first client had not loaded
    a.set([("k", b"again")])
    assert b.get(["k"]) == [b"again"] and len(b) == 1


def test_threads_on_one_remote_vault(open_remote: Callable[..., Vault]) -> None:
    vault = open_remote()
    history = [VecVaultChatMessageHistory(f"session-{t}", vault=vault) for t in range(4)]
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(5):
                history[t].add_user_message(f"message {i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(len(h.messages) == 5 for h in history)
    assert sorted(VecVaultChatMessageHistory.sessions(vault)) == [f"session-{t}" for t in range(4)]


def test_the_server_holds_no_key_or_value(open_remote: Callable[..., Vault], sqld_server: SqldServer) -> None:
    vault = open_remote()
    store = VecVaultByteStore(vault=vault, namespace="remote_docs")
    store.mset([(CANARY_KEY, CANARY_VALUE)])
    assert store.mget([CANARY_KEY]) == [CANARY_VALUE]
    seen = _server_bytes(sqld_server.url)
    assert b"remote_docs" in seen  # the namespace name is plaintext, like a collection name
    for blob in (seen, _files_bytes(Path(sqld_server.data_dir))):
        assert CANARY_KEY.encode() not in blob
        assert CANARY_VALUE not in blob
