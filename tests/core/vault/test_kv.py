"""The sealed key-value store (vault.kv): behaviour, bad input, keys sealed, lifecycle, processes, threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import libsql
import pytest

from vecvault import ConfigurationError, IntegrityError, StorageError, Vault
from vecvault.backup import export_vault, import_bundle, read_bundle_header
from vecvault.kv import KeyValueStore

ROOT = Path(__file__).resolve().parents[3]
CANARY_KEY = "ferret-canary-key-path/notes.md"
CANARY_VALUE = b"heron-canary-value-5c1e"


def test_get_set_delete_keys_len(vault: Vault) -> None:
    kv = vault.kv("docstore")
    assert kv.get(["a"]) == [None] and len(kv) == 0 and list(kv.keys()) == []
    kv.set([("a", b"1"), ("b", b"2"), ("dir/c", b"3"), ("a", b"one")])  # the last of a duplicate wins
    assert kv.get(["a", "b", "dir/c", "zz"]) == [b"one", b"2", b"3", None]
    assert len(kv) == 3
    assert sorted(kv.keys()) == ["a", "b", "dir/c"]
    assert list(kv.keys(prefix="dir/")) == ["dir/c"]
    assert dict(kv.items()) == {"a": b"one", "b": b"2", "dir/c": b"3"}
    assert kv["b"] == b"2" and "b" in kv and "zz" not in kv
    with pytest.raises(KeyError):
        kv["zz"]
    kv.set([("b", b"")])  # empty values are values
    assert kv.get(["b"]) == [b""]
    assert kv.delete(["a", "zz", "a"]) == 1
    assert sorted(kv.keys()) == ["b", "dir/c"]
    assert kv.clear() == 2 and len(kv) == 0
    assert vault.kv_info()[0].name == "docstore"


def test_unicode_and_long_keys_and_large_values(vault: Vault) -> None:
    kv = vault.kv("x")
    items = [("ключ 🔑", b"\x00\xff" * 10), ("k" * 10_000, b"v" * 2_000_000), ("", b"empty key")]
    kv.set(items)
    assert kv.get([k for k, _ in items]) == [v for _, v in items]


def test_namespaces_are_separate(vault: Vault) -> None:
    vault.kv("one").set([("k", b"1")])
    vault.kv("two").set([("k", b"2")])
    assert vault.kv("one").get(["k"]) == [b"1"] and vault.kv("two").get(["k"]) == [b"2"]
    assert vault.kv("one").delete(["k"]) == 1
    assert vault.kv("two").get(["k"]) == [b"2"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda kv: kv.set([(1, b"x")]), "keys must be str"),
        (lambda kv: kv.set([("k", "text")]), "values must be bytes"),
        (lambda kv: kv.set([("k", None)]), "values must be bytes"),
        (lambda kv: kv.set([("k",)]), "pair"),
        (lambda kv: kv.set("k"), "pairs"),
        (lambda kv: kv.get([b"k"]), "keys must be str"),
        (lambda kv: kv.get("k"), "not one str"),
        (lambda kv: kv.delete([None]), "keys must be str"),
        (lambda kv: kv.set([("\ud800", b"x")]), "surrogate"),
    ],
)
def test_bad_input_is_a_configuration_error_and_stores_nothing(vault: Vault, call: Callable, match: str) -> None:
    kv = vault.kv("ns")
    kv.set([("keep", b"1")])
    with pytest.raises(ConfigurationError, match=match):
        call(kv)
    assert dict(kv.items()) == {"keep": b"1"}


def test_a_bad_item_among_good_ones_stores_none_of_them(vault: Vault) -> None:
    kv = vault.kv("ns")
    with pytest.raises(ConfigurationError):
        kv.set([("a", b"1"), ("b", 2)])
    assert len(kv) == 0


@pytest.mark.parametrize("name", ["", None, "a\x00b", 3])
def test_bad_namespace_names(vault: Vault, name: object) -> None:
    with pytest.raises(ConfigurationError, match="namespace"):
        vault.kv(name)  # type: ignore[arg-type]


def test_a_namespace_and_a_collection_cannot_share_a_name(vault: Vault) -> None:
    vault.collection("notes", dim=2).add(texts=["t"], vectors=[[1.0, 0.0]])
    with pytest.raises(ConfigurationError, match="collection"):
        vault.kv("notes")
    vault.kv("chat").set([("k", b"v")])
    with pytest.raises(ConfigurationError, match="key-value namespace"):
        vault.collection("chat", dim=2)
    assert vault.collections() == ["notes"]


def test_a_closed_vault_refuses(vault: Vault) -> None:
    kv = vault.kv("ns")
    kv.set([("k", b"v")])
    vault.close()
    for call in (lambda: kv.get(["k"]), lambda: kv.set([("k", b"v")]), lambda: list(kv.keys()), lambda: len(kv)):
        with pytest.raises(StorageError, match="closed"):
            call()


def test_a_wrong_key_does_not_open(vault_path: Path, master_key: bytes) -> None:
    from vecvault import WrongKeyError

    with Vault.open(vault_path, key=master_key) as vault:
        vault.kv("ns").set([("k", b"v")])
    with pytest.raises(WrongKeyError):
        Vault.open(vault_path, key=bytes(reversed(master_key)))


def test_atomic_read_modify_write_and_rollback(vault: Vault) -> None:
    kv = vault.kv("counters")
    for _ in range(3):
        with kv.atomic() as tx:
            (old,) = tx.get(["n"])
            tx.set([("n", str(int(old or b"0") + 1).encode())])
    assert kv.get(["n"]) == [b"3"]

    def fail_midway() -> None:
        with kv.atomic() as tx:
            tx.set([("n", b"99"), ("other", b"x")])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert kv.get(["n", "other"]) == [b"3", None]


def _raw_rows(path: Path) -> list[tuple[bytes, bytes, bytes]]:
    conn = libsql.connect(str(path), isolation_level=None)
    try:
        return [
            tuple(r)
            for r in conn.execute(
                "SELECT CAST(lookup AS BLOB), CAST(key AS BLOB), CAST(value AS BLOB) FROM vv_kv"
            ).fetchall()
        ]
    finally:
        conn.close()


def _scan(directory: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{needle!r} in {path.name}" for needle in needles if needle in data]
    return found


@pytest.mark.parametrize("file_encryption", [None, False])
def test_keys_and_values_are_sealed_at_rest(tmp_path: Path, master_key: bytes, file_encryption: bool | None) -> None:
    import hashlib

    directory = tmp_path / "v"
    directory.mkdir()
    needles = [CANARY_KEY.encode(), CANARY_VALUE, hashlib.sha1(CANARY_KEY.encode()).hexdigest().encode()]
    needles.append(hashlib.sha256(CANARY_KEY.encode()).digest())
    with Vault.open(directory / "v.db", key=master_key, file_encryption=file_encryption) as vault:
        kv = vault.kv("paths")
        kv.set([(f"{CANARY_KEY}-{i}", CANARY_VALUE + bytes([i])) for i in range(50)])
        assert _scan(directory, needles) == []
    assert _scan(directory, needles) == []
    if file_encryption is False:
        rows = _raw_rows(directory / "v.db")
        assert len(rows) == 50 and all(len(lookup) == 32 for lookup, _, _ in rows)


def test_deleting_entries_removes_their_ciphertext(tmp_path: Path, master_key: bytes) -> None:
    directory = tmp_path / "v"
    directory.mkdir()
    path = directory / "v.db"
    with Vault.open(path, key=master_key, file_encryption=False) as vault:
        kv = vault.kv("chat")
        kv.set([(f"session-{i}", bytes([i]) * 300) for i in range(20)])
        blobs = [b for _, k, v in _raw_rows(path) for b in (k, v)]
        data = b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())
        assert all(b[-24:] in data for b in blobs)
        assert kv.delete([f"session-{i}" for i in range(20)]) == 20
        data = b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())
        assert [b for b in blobs if b[-24:] in data] == []


def _tamper(path: Path, sql: str) -> None:
    conn = libsql.connect(str(path), isolation_level=None)
    try:
        conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_moved_or_flipped_entries_fail_and_verify_names_them(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key, file_encryption=False) as vault:
        kv = vault.kv("ns")
        kv.set([("a", b"alpha"), ("b", b"beta")])
        assert vault.verify().ok
    # Copy one entry's value into the other: it now sits beside another key.
    _tamper(path, "UPDATE vv_kv SET value = (SELECT value FROM vv_kv WHERE rowid = 1) WHERE rowid = 2")
    with Vault.open(path, key=master_key) as vault:
        kv = vault.kv("ns")
        with pytest.raises(IntegrityError) as caught:
            kv.get(["a", "b"])
        assert "'a'" not in str(caught.value) and "'b'" not in str(caught.value)  # it names the lookup instead
        report = vault.verify()
        assert not report.ok and report.namespaces == 1 and report.entries == 2
        assert {f.field for f in report.failures} == {"kv-value"}
        assert all(f.record_id.startswith("lookup:") for f in report.failures)
    # A truncated sealed key.
    _tamper(path, "UPDATE vv_kv SET key = substr(CAST(key AS BLOB), 1, length(CAST(key AS BLOB)) - 1) WHERE rowid = 1")
    with Vault.open(path, key=master_key) as vault:
        assert any(f.field == "kv-key" for f in vault.verify().failures)


def test_rotation_reseals_entries_and_recomputes_lookups(vault: Vault) -> None:
    kv = vault.kv("ns")
    kv.set([(f"k{i}", f"v{i}".encode()) for i in range(40)])
    before = {k.key_id for k in vault.key_info() if k.scope == "ns" and k.state == "primary"}
    (report,) = vault.rotate_data_keys("ns", batch_size=7)
    assert report.resealed == 40 and set(report.destroyed) == before
    assert kv.get(["k0", "k39"]) == [b"v0", b"v39"] and len(kv) == 40
    kv.set([("k0", b"new")])
    assert kv.get(["k0"]) == [b"new"] and len(kv) == 40
    assert vault.verify().ok
    reports = vault.rotate_data_keys()
    assert {r.scope for r in reports} == {"ns", ""}


def test_writes_during_a_rotation_are_never_stored_twice(vault: Vault) -> None:
    from vecvault.ops.rotation import _start_rotation  # the first step of a rotation, then writes, then the rest

    kv = vault.kv("ns")
    kv.set([(f"k{i}", b"old") for i in range(10)])
    with vault.core.lock:
        _start_rotation(vault.core, "ns")  # new primary; the entries are still on the old (enabled) key
    kv.set([("k3", b"new"), ("k11", b"added")])
    assert len(kv) == 11 and kv.get(["k3", "k4", "k11"]) == [b"new", b"old", b"added"]
    assert kv.delete(["k4"]) == 1
    (report,) = vault.rotate_data_keys("ns")
    assert report.resumed and len(kv) == 10 and kv.get(["k3", "k4"]) == [b"new", None]


def test_shred_destroys_the_namespace_keys(vault: Vault) -> None:
    kv = vault.kv("ns")
    kv.set([("k", b"v")])
    ids = {k.key_id for k in vault.key_info() if k.scope == "ns"}
    assert vault.shred("ns") == 1
    assert vault.kv_info() == [] and kv.get(["k"]) == [None]
    assert {k.state for k in vault.key_info() if k.key_id in ids} == {"destroyed"}
    kv.set([("k", b"again")])  # a new namespace of the same name gets a new key
    assert kv.get(["k"]) == [b"again"]
    vault.collection("c", dim=2).add(vectors=[[1.0, 0.0]])
    assert sorted(vault.shred_all()) == ["c", "ns"] and vault.kv_info() == []


def test_export_and_import_carry_namespaces(tmp_path: Path, master_key: bytes) -> None:
    with Vault.open(tmp_path / "a.db", key=master_key) as vault:
        vault.collection("c", dim=2).add(texts=["t"], vectors=[[1.0, 0.0]], ids=["r"])
        vault.kv("docs").set([(f"k{i}", bytes([i]) * 10) for i in range(30)])
        with vault.kv("empty").atomic():
            pass
        report = export_vault(vault, tmp_path / "b.vvb")
    assert (report.collections, report.records, report.namespaces, report.entries) == (1, 1, 2, 30)
    assert read_bundle_header(tmp_path / "b.vvb")["version"] == 2
    report = import_bundle(tmp_path / "b.vvb", tmp_path / "new.db", key=master_key)
    assert (report.collections, report.records, report.namespaces, report.entries) == (1, 1, 2, 30)
    with Vault.open(tmp_path / "new.db", key=master_key) as vault:
        assert [(n.name, n.count) for n in vault.kv_info()] == [("docs", 30), ("empty", 0)]
        assert vault.kv("docs").get(["k7"]) == [bytes([7]) * 10]
        assert vault.collection("c").get(["r"])[0].text == "t"


def test_many_threads(vault: Vault) -> None:
    kv = vault.kv("ns")
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(30):
                kv.set([(f"{t}-{i}", str(i).encode())])
                assert kv.get([f"{t}-{i}"]) == [str(i).encode()]
            with kv.atomic() as tx:
                (old,) = tx.get(["total"])
                tx.set([("total", str(int(old or b"0") + 1).encode())])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(kv) == 6 * 30 + 1 and kv.get(["total"]) == [b"6"]


_WORKER = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{core!r}]
    from vecvault import Vault
    path, key_hex, name = sys.argv[1], sys.argv[2], sys.argv[3]
    with Vault.open(path, key=bytes.fromhex(key_hex)) as vault:
        kv = vault.kv("shared")
        for i in range(40):
            kv.set([(name + "-" + str(i), b"x")])
            with kv.atomic() as tx:
                (old,) = tx.get(["count"])
                tx.set([("count", str(int(old or b"0") + 1).encode())])
    """
)


@pytest.mark.multiprocess
def test_two_processes_write_and_see_each_other(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key) as vault:
        kv = vault.kv("shared")
        kv.set([("seed", b"1")])
        script = _WORKER.format(core=str(ROOT / "core"))
        procs = [
            subprocess.Popen([sys.executable, "-c", script, str(path), master_key.hex(), name]) for name in ("p1", "p2")
        ]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        assert kv.get(["count", "p1-39", "p2-0"]) == [b"80", b"x", b"x"]  # this process sees their writes
        assert len(kv) == 1 + 80 + 1


@pytest.mark.multiprocess
def test_a_rotation_in_another_process_is_followed(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key) as vault:
        kv = vault.kv("ns")
        kv.set([("k", b"v")])
        assert kv.get(["k"]) == [b"v"]
        script = textwrap.dedent(
            f"""
            import sys
            sys.path[:0] = [{str(ROOT / "core")!r}]
            from vecvault import Vault
            with Vault.open(sys.argv[1], key=bytes.fromhex(sys.argv[2])) as vault:
                vault.rotate_data_keys("ns")
            """
        )
        subprocess.run([sys.executable, "-c", script, str(path), master_key.hex()], check=True, timeout=120)
        assert kv.get(["k"]) == [b"v"]  # the entry moved to a lookup under a key this process did not have
        kv.set([("k", b"w")])
        assert len(kv) == 1 and kv.get(["k"]) == [b"w"]


def test_the_store_type_is_public(vault: Vault) -> None:
    assert isinstance(vault.kv("ns"), KeyValueStore)
    assert repr(vault.kv("ns")) == "KeyValueStore('ns')"


def test_info_and_exposure_list_namespaces(vault: Vault) -> None:
    vault.kv("chat_history").set([("s1", b"x")])
    assert [(n.name, n.count) for n in vault.kv_info()] == [("chat_history", 1)]
    assert any("'chat_history' (1 entries)" in line for line in vault.exposure())
    keys = [k for k in vault.key_info() if k.scope == "chat_history"]
    assert len(keys) == 1 and keys[0].records == 1


def test_shredding_a_namespace_removes_its_ciphertext(tmp_path: Path, master_key: bytes) -> None:
    directory = tmp_path / "v"
    directory.mkdir()
    path = directory / "v.db"
    with Vault.open(path, key=master_key, file_encryption=False) as vault:
        vault.kv("doomed").set([(f"k{i}", bytes([i]) * 200) for i in range(10)])
        blobs = [b for _, k, v in _raw_rows(path) for b in (k, v)]
        assert vault.shred("doomed") == 10
        data = b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())
        assert [b for b in blobs if b[-24:] in data] == []


def test_cli_info_and_verify_list_namespaces(
    tmp_path: Path, master_key: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64
    import json

    from vecvault.cli import main

    monkeypatch.setenv("VECVAULT_KEY", base64.b64encode(master_key).decode())
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key) as vault:
        vault.kv("chat_history").set([(CANARY_KEY, CANARY_VALUE)])
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "chat_history: 1 entries" in out and CANARY_KEY not in out
    assert main(["info", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["kv_namespaces"] == [{"name": "chat_history", "count": 1}]
    assert main(["verify", str(path)]) == 0
    assert "1 key-value entries in 1 namespaces: ok" in capsys.readouterr().out
