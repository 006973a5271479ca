"""The vault on a real libSQL server (sqld): behaviour, transactions, reconnects, and what the server holds."""

from __future__ import annotations

import base64
import itertools
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import libsql
import numpy as np
import pytest

from vecvault import Vault
from vecvault.errors import ConfigurationError, StorageError
from vecvault.keys import StaticKeyProvider
from vecvault.storage import Storage

from .conftest import JwtIssuer, SqldServer

pytestmark = pytest.mark.remote

VECS = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.9, 0.1, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.7, 0.7]],
    dtype=np.float32,
)
TEXTS = ["alpha", "alpha prime", "beta", "gamma", "delta"]
METAS: list[dict[str, Any]] = [
    {"topic": "a", "year": 2020},
    {"topic": "a", "year": 2021},
    {"topic": "b", "year": 2022},
    {"topic": "c", "year": 2023},
    {"topic": "c", "year": 2024},
]
IDS = ["r1", "r2", "r3", "r4", "r5"]


def _fill(vault: Vault, name: str = "notes") -> Any:
    col = vault.collection(name, dim=4)
    col.add(texts=TEXTS, vectors=VECS, metadatas=METAS, ids=IDS)
    return col


def test_core_behaviours_on_the_server(open_remote: Callable[..., Vault]) -> None:
    vault = open_remote()
    assert vault.remote
    assert not vault.file_encrypted
    col = _fill(vault)
    assert col.count() == 5
    assert sorted(col.ids()) == IDS

    hits = col.search([1.0, 0.0, 0.0, 0.0], k=2)
    assert [h.id for h in hits] == ["r1", "r2"]
    assert hits[0].text == "alpha"
    assert hits[0].metadata == {"topic": "a", "year": 2020}

    filtered = col.search([1.0, 0.0, 0.0, 0.0], k=3, filter={"year": {"$gte": 2022}})
    assert {h.id for h in filtered} == {"r3", "r4", "r5"}

    mmr = col.search_mmr([1.0, 0.0, 0.0, 0.0], k=2, fetch_k=5, lambda_mult=0.1)
    assert mmr[0].id == "r1"
    assert mmr[1].id != "r2"

    records = col.get(["r3", "missing", "r1"])
    assert [r.id for r in records] == ["r3", "r1"]
    assert records[0].vector is not None
    assert np.allclose(records[0].vector, VECS[2])
    assert [r.id for r in col.get(filter={"topic": "c"})] in (["r4", "r5"], ["r5", "r4"])

    col.add(texts=["alpha v2"], vectors=[[1.0, 0.0, 0.0, 0.0]], metadatas=[{"topic": "z"}], ids=["r1"])  # upsert
    assert col.count() == 5
    assert col.get(["r1"])[0].text == "alpha v2"

    assert col.delete(["r1", "nope"]) == 1
    assert col.delete(filter={"topic": "c"}) == 2
    assert sorted(col.ids()) == ["r2", "r3"]
    assert [h.id for h in col.search([1.0, 0.0, 0.0, 0.0], k=5)] == ["r2", "r3"]

    other = vault.collection("other", dim=4)
    other.add(texts=["x"], vectors=[[0.0, 0.0, 0.0, 1.0]])
    assert vault.collections() == ["notes", "other"]
    assert col.clear() == 2
    assert col.count() == 0
    assert col.search([1.0, 0.0, 0.0, 0.0]) == []
    assert vault.drop_collection("other") is True
    assert vault.collections() == ["notes"]


def test_reopen_keeps_everything(open_remote: Callable[..., Vault]) -> None:
    first = open_remote()
    _fill(first)
    vault_id = first.vault_id
    first.close()
    again = open_remote()
    assert again.vault_id == vault_id
    col = again.collection("notes")
    assert col.dim == 4
    assert col.count() == 5
    assert col.search([0.0, 1.0, 0.0, 0.0], k=1)[0].text == "beta"


def test_a_websocket_url_names_the_fix() -> None:
    with pytest.raises(ConfigurationError, match="http://"):
        Vault.open("ws://127.0.0.1:1", key=os.urandom(32))


def test_file_encryption_is_refused_for_a_url(remote_url: str) -> None:
    with pytest.raises(ConfigurationError, match="local files only"):
        Vault.open(remote_url, key=os.urandom(32), file_encryption=True)


def test_two_clients_see_each_others_writes(open_remote: Callable[..., Vault]) -> None:
    one = open_remote()
    two = open_remote()
    col_one = _fill(one)
    col_two = two.collection("notes")
    assert [h.id for h in col_two.search([0.0, 0.0, 1.0, 0.0], k=1)] == ["r4"]  # loads the index from the server
    col_two.add(texts=["new"], vectors=[[0.0, 0.0, 0.0, 1.0]], ids=["r6"])
    col_two.delete(["r4"])
    assert [h.id for h in col_one.search([0.0, 0.0, 0.0, 1.0], k=1)] == ["r6"]
    assert "r4" not in {h.id for h in col_one.search([0.0, 0.0, 1.0, 0.0], k=6)}
    assert col_one.count() == 5
    col_one.clear()
    assert col_two.search([0.0, 0.0, 0.0, 1.0]) == []


def test_transaction_is_atomic_on_the_server(remote_url: str) -> None:
    storage = Storage.open(remote_url, file_key=None)
    raw = libsql.connect(remote_url, auth_token="", isolation_level=None)
    try:
        storage.create_schema({"vault_id": b"0" * 16})

        def seen(key: str) -> bool:
            return bool(raw.execute("SELECT 1 FROM vv_meta WHERE key = ?", (key,)).fetchall())

        def failing_batch() -> None:
            with storage.transaction():
                storage.set_meta("rolled", b"1")
                storage.set_meta("rolled-too", b"2")
                assert storage.get_meta("rolled") == b"1"  # our own uncommitted write, on the same stream
                assert not seen("rolled")  # another client never sees it
                raise RuntimeError("abort the batch")

        with pytest.raises(RuntimeError, match="abort the batch"):
            failing_batch()
        assert not seen("rolled")
        assert not seen("rolled-too")
        assert storage.get_meta("rolled") is None

        with storage.transaction():
            storage.set_meta("kept", b"1")
            storage.execute_many("INSERT INTO vv_meta (key, value) VALUES (?, ?)", [("k2", b"2"), ("k3", b"3")])
            assert not seen("kept")
        assert seen("kept")
        assert seen("k2")
        assert seen("k3")
    finally:
        storage.close()
        raw.close()


# -- what the server holds ------------------------------------------------------------------------------

CANARY_TEXT = "CanaryText-7f3a9b-secret"
CANARY_META_KEY = "canarykey_q9z"
CANARY_META_VALUE = "CanaryMeta-51c2-secret"
CANARY_VECTOR = [0.123456, -0.654321, 0.777777, 0.314159]


def _string_forms(text: str) -> list[bytes]:
    raw = text.encode()
    forms = [raw, text.encode("utf-16-le"), text.encode("utf-16-be"), raw.hex().encode(), raw.hex().upper().encode()]
    for pad in range(3):  # base64 of the text at each alignment inside a longer blob
        encoded = base64.b64encode(b"\x00" * pad + raw)
        forms.append(encoded[(pad * 4 + 2) // 3 + 1 : -4])
        forms.append(base64.urlsafe_b64encode(b"\x00" * pad + raw)[(pad * 4 + 2) // 3 + 1 : -4])
    return [f for f in forms if len(f) >= 8]


def _vector_forms(vector: list[float]) -> list[bytes]:
    v = np.asarray(vector, dtype=np.float32)
    unit = v / np.linalg.norm(v)
    forms: list[bytes] = []
    for arr in (v, unit):
        forms += [arr.astype("<f4").tobytes(), arr.astype(">f4").tobytes(), arr.astype("<f8").tobytes()]
        forms += [arr[:2].astype("<f4").tobytes(), arr[2:].astype("<f4").tobytes()]
        forms += [arr.astype("<f4").tobytes().hex().encode(), base64.b64encode(arr.astype("<f4").tobytes())[:12]]
    forms += [struct.pack("<f", x) + struct.pack("<f", y) for x, y in itertools.pairwise(vector)]
    forms += [repr(x).encode() for x in vector] + [b"0.654321", b"0.777777"]
    return forms


def _server_bytes(url: str) -> bytes:
    """Everything a plain client can read from the server: every value of every row of every table."""
    conn = libsql.connect(url, auth_token="", isolation_level=None)
    chunks: list[bytes] = []
    try:
        tables = conn.execute("SELECT name, sql FROM sqlite_master").fetchall() or []
        for name, sql in tables:
            chunks.append(f"{name} {sql}".encode())
            if sql and sql.upper().startswith("CREATE TABLE"):
                for row in conn.execute(f'SELECT * FROM "{name}"').fetchall() or []:
                    chunks.extend(_value_bytes(row))
    finally:
        conn.close()
    return b"\n".join(chunks)


def _value_bytes(row: Iterable[Any]) -> list[bytes]:
    return [v if isinstance(v, bytes) else str(v).encode() for v in row]


def _files_bytes(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_the_server_holds_no_canary(open_remote: Callable[..., Vault], sqld_server: SqldServer) -> None:
    vault = open_remote()
    col = vault.collection("canaries", dim=4)
    col.add(
        texts=[CANARY_TEXT, "filler"],
        vectors=[CANARY_VECTOR, [0.5, 0.5, 0.5, 0.5]],
        metadatas=[{CANARY_META_KEY: CANARY_META_VALUE, "n": 42}, {"note": CANARY_META_VALUE}],
        ids=["c1", "c2"],
    )
    assert col.get(["c1"])[0].text == CANARY_TEXT  # it is there, sealed
    seen = _server_bytes(sqld_server.url)
    assert b"canaries" in seen
    assert b"c1" in seen
    on_disk = _files_bytes(sqld_server.data_dir)
    assert len(on_disk) > 0
    for blob in (seen, on_disk):
        for form in _string_forms(CANARY_TEXT) + _string_forms(CANARY_META_VALUE) + _string_forms(CANARY_META_KEY):
            assert form not in blob, form
        for form in _vector_forms(CANARY_VECTOR):
            assert form not in blob, form


def test_exposure_describes_the_server(open_remote: Callable[..., Vault], sqld_server: SqldServer) -> None:
    vault = open_remote()
    _fill(vault)
    lines = vault.exposure()
    text = "\n".join(lines)
    assert sqld_server.url in text
    assert "record ids" in text
    assert "'notes' (5 records, dim 4, cosine)" in text
    assert "Sealed" in text
    assert "text" in text
    assert "embedding vector" in text
    assert "as it happens" in text
    assert "alpha" not in text


# -- failures -------------------------------------------------------------------------------------------


def test_server_down_is_a_clean_error_and_the_next_call_reconnects(own_sqld: SqldServer) -> None:
    vault = Vault.open(own_sqld.url, key=os.urandom(32))
    try:
        col = _fill(vault)
        assert col.search([1.0, 0.0, 0.0, 0.0], k=1)[0].id == "r1"
        own_sqld.stop()
        with pytest.raises(StorageError, match=r"libSQL server at http://127\.0\.0\.1"):
            col.search([1.0, 0.0, 0.0, 0.0], k=1)
        with pytest.raises(StorageError):
            col.add(texts=["lost"], vectors=[[0.0, 1.0, 0.0, 0.0]], ids=["r9"])
        own_sqld.start()
        assert col.search([1.0, 0.0, 0.0, 0.0], k=1)[0].id == "r1"
        col.add(texts=["back"], vectors=[[0.0, 0.0, 0.0, 1.0]], ids=["r9"])
        assert col.count() == 6
        assert col.get(["r9"])[0].text == "back"
    finally:
        vault.close()


def test_a_restart_between_calls_is_invisible(own_sqld: SqldServer) -> None:
    vault = Vault.open(own_sqld.url, key=os.urandom(32))
    try:
        col = _fill(vault)
        own_sqld.restart()  # the old stream's baton is now invalid: the statement is retried on a new connection
        assert col.count() == 5
        own_sqld.restart()
        col.add(texts=["after"], vectors=[[0.0, 0.0, 0.0, 1.0]], ids=["r9"])  # BEGIN is retried, once
        assert [h.id for h in col.search([0.0, 0.0, 0.0, 1.0], k=1)] == ["r9"]
    finally:
        vault.close()


@pytest.mark.slow
def test_an_idle_connection_is_reopened(open_remote: Callable[..., Vault]) -> None:
    import time

    vault = open_remote()
    col = _fill(vault)
    time.sleep(11)  # sqld expires an idle stream after 10 s; the binding never recovers it by itself
    assert col.search([0.0, 1.0, 0.0, 0.0], k=1)[0].id == "r3"
    time.sleep(11)
    col.add(texts=["later"], vectors=[[0.0, 0.0, 0.0, 1.0]], ids=["r9"])
    assert col.count() == 6


def test_unreachable_server_at_open_is_a_storage_error() -> None:
    from .conftest import free_port

    with pytest.raises(StorageError, match="check that it is running"):
        Vault.open(f"http://127.0.0.1:{free_port()}", key=os.urandom(32))


# -- embedded replicas ----------------------------------------------------------------------------------


def test_replica_with_libsql_experimental(open_remote: Callable[..., Vault], remote_url: str, tmp_path: Path) -> None:
    pytest.importorskip("libsql_experimental")
    key = StaticKeyProvider(os.urandom(32))
    primary = open_remote(key=key)
    col = _fill(primary)
    replica = Vault.open(tmp_path / "replica.db", key=key, sync_url=remote_url, driver="libsql_experimental")
    try:
        assert replica.file_encrypted  # this binding allows page encryption on a replica
        rcol = replica.collection("notes")
        assert [h.id for h in rcol.search([0.0, 1.0, 0.0, 0.0], k=1)] == ["r3"]  # reads the local copy
        rcol.add(texts=[CANARY_TEXT], vectors=[[0.0, 0.0, 0.0, 1.0]], ids=["from-replica"])  # forwarded
        assert [h.id for h in col.search([0.0, 0.0, 0.0, 1.0], k=1)] == ["from-replica"]
        col.delete(["r3"])
        col.add(texts=["from primary"], vectors=[[0.0, 1.0, 0.0, 0.0]], ids=["p1"])
        assert [h.id for h in rcol.search([0.0, 1.0, 0.0, 0.0], k=1)] == ["p1"]  # a search pulls first
        assert rcol.count() == 6
        assert "replica" in "\n".join(replica.exposure())
    finally:
        replica.close()
    local = _files_bytes(tmp_path)
    for form in _string_forms(CANARY_TEXT):
        assert form not in local


def test_replica_from_sqld_with_libsql_0_1_9_plus_names_the_fix(
    open_remote: Callable[..., Vault], remote_url: str, tmp_path: Path
) -> None:
    from importlib.metadata import version

    major, minor, patch = (int(p) for p in version("libsql").split(".")[:3])
    if (major, minor, patch) < (0, 1, 9):
        pytest.skip("libsql <= 0.1.8 replicates from a self-hosted sqld")
    key = StaticKeyProvider(os.urandom(32))
    _fill(open_remote(key=key))
    with pytest.raises(StorageError, match="libsql_experimental"):
        Vault.open(tmp_path / "replica.db", key=key, sync_url=remote_url, file_encryption=False)


# -- authentication -------------------------------------------------------------------------------------


def test_auth_token(auth_sqld: tuple[SqldServer, JwtIssuer]) -> None:
    server, issuer = auth_sqld
    key = os.urandom(32)
    with pytest.raises(StorageError, match="auth_token"):
        Vault.open(server.url, key=key)
    with pytest.raises(StorageError, match="refused the credentials"):
        Vault.open(server.url, key=key, auth_token="not.a.jwt")
    token = issuer.token("rw")
    with Vault.open(server.url, key=key, auth_token=token) as vault:
        _fill(vault)
        assert token not in repr(vault)
    with Vault.open(server.url, key=key, auth_token=issuer.token("ro")) as reader:
        col = reader.collection("notes")
        assert [h.id for h in col.search([0.0, 1.0, 0.0, 0.0], k=1)] == ["r3"]
        with pytest.raises(StorageError, match=r"read-only auth_token|write access"):
            col.add(texts=["no"], vectors=[[0.0, 0.0, 0.0, 1.0]])
        assert col.count() == 5  # the refused write left nothing, and the connection still reads


def test_replica_with_its_primary_down(own_sqld: SqldServer, tmp_path: Path) -> None:
    pytest.importorskip("libsql_experimental")
    key = os.urandom(32)
    with Vault.open(own_sqld.url, key=key) as primary:
        _fill(primary)
    replica = Vault.open(tmp_path / "replica.db", key=key, sync_url=own_sqld.url, driver="libsql_experimental")
    try:
        col = replica.collection("notes")
        own_sqld.stop()
        with pytest.raises(StorageError, match="Could not pull the primary's changes"):
            col.search([1.0, 0.0, 0.0, 0.0], k=1)  # no silent stale answer
        assert col.count() == 5  # the local copy still reads
        assert col.get(["r1"])[0].text == "alpha"
        own_sqld.start()
        assert [h.id for h in col.search([1.0, 0.0, 0.0, 0.0], k=1)] == ["r1"]
    finally:
        replica.close()


# -- bulk statements ------------------------------------------------------------------------------------


def test_multi_row_statements() -> None:
    from vecvault.storage._sql import _multi_row_statement

    assert _multi_row_statement("INSERT INTO t (a, b) VALUES (?, ?)", 2, 3) == (
        "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)"
    )
    assert _multi_row_statement("DELETE FROM t WHERE a = ? AND b = ?", 2, 2) == (
        "DELETE FROM t WHERE (a, b) IN (VALUES (?, ?), (?, ?))"
    )
    assert _multi_row_statement('DELETE FROM "t" WHERE id = ?', 1, 3) == 'DELETE FROM "t" WHERE id IN (?, ?, ?)'
    assert _multi_row_statement("UPDATE t SET a = ? WHERE b = ?", 2, 2) is None
    assert _multi_row_statement("INSERT INTO t (a, b) VALUES (?, ?)", 3, 2) is None


def test_bulk_add_and_delete_span_several_statements(open_remote: Callable[..., Vault]) -> None:
    vault = open_remote()
    col = vault.collection("bulk", dim=4)
    rng = np.random.default_rng(7)
    ids = [f"id-{i}" for i in range(700)]  # > 2 statements of 256 rows
    vectors = rng.standard_normal((700, 4)).astype(np.float32)
    col.add(texts=[f"t{i}" for i in range(700)], vectors=vectors, metadatas=[{"i": i} for i in range(700)], ids=ids)
    assert col.count() == 700
    assert col.delete(ids[100:650]) == 550
    col.add(texts=["again"], vectors=vectors[200:201], ids=["id-200"])  # re-add one deleted id
    assert sorted(col.ids()) == sorted([*ids[:100], *ids[650:], "id-200"])
    other = open_remote().collection("bulk")  # a second client catches up from the deletion log
    assert sorted(other.vectors()[0]) == sorted(col.ids())
    assert other.get(["id-699"])[0].metadata == {"i": 699}
    hit = other.search(vectors[699], k=1)[0]
    assert hit.id == "id-699"
    assert hit.text == "t699"


def test_plain_vector_mode_on_the_server(open_remote: Callable[..., Vault]) -> None:
    vault = open_remote()
    col = vault.collection("plain", dim=4, vectors="plain", allow_plaintext_vectors=True)
    col.add(texts=TEXTS, vectors=VECS, metadatas=METAS, ids=IDS)
    assert [h.id for h in col.search([1.0, 0.0, 0.0, 0.0], k=2)] == ["r1", "r2"]
    assert [h.id for h in col.search([1.0, 0.0, 0.0, 0.0], k=1, filter={"topic": "c"})] in (["r4"], ["r5"])
    col.delete(["r1"])
    assert [h.id for h in col.search([1.0, 0.0, 0.0, 0.0], k=1)] == ["r2"]
    assert "NOT sealed" in "\n".join(vault.exposure())
