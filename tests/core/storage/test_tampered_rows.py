"""A vault file altered outside vecvault, with the stdlib sqlite3 module on an unencrypted file.

Issue 10: a sealed column holding a value of the wrong storage class (non-UTF-8 TEXT, INTEGER, REAL, NULL)
is an ``IntegrityError`` that names the record, and ``verify`` reports that record and field and goes on;
never a binding panic (``StorageError``) or a ``TypeError``. Issue 11: a damaged schema version or key row
is a typed error with a message that says what to do, and the CLI prints one ``vecvault: error:`` line.

Alterations go through sqlite3 only while no vault has the file open (two SQLite libraries in one process
do not see each other's locks); the one made under open vaults goes through libSQL.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import libsql
import numpy as np
import pytest

from vecvault import IntegrityError, NotAVaultError, Vault
from vecvault.cli import main

DIM = 4
IDS = ["r0", "r1", "r2"]
TEXTS = [f"text of {i}" for i in IDS]


@pytest.fixture
def path(tmp_path: Path, master_key: bytes, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small unencrypted vault (closed); VECVAULT_KEY holds its key for the CLI."""
    monkeypatch.setenv("VECVAULT_KEY", base64.b64encode(master_key).decode())
    location = tmp_path / "v.db"
    with Vault.open(location, key=master_key, file_encryption=False) as vault:
        vault.collection("notes", dim=DIM).add(
            texts=TEXTS,
            vectors=np.eye(DIM, dtype=np.float32)[: len(IDS)] + 0.1,
            metadatas=[{"i": i} for i in range(len(IDS))],
            ids=IDS,
        )
    return location


def tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


# SQLite keeps NOT NULL on the sealed columns; an attacker who can write the file can drop it.
_ALLOW_NULLS = (
    "ALTER TABLE vv_records RENAME TO vv_records_old",
    "CREATE TABLE vv_records (collection TEXT NOT NULL, id TEXT NOT NULL, rev INTEGER NOT NULL, "
    "key_id INTEGER NOT NULL, text BLOB, metadata BLOB, vector BLOB, updated_at REAL NOT NULL, "
    "UNIQUE (collection, id))",
    "INSERT INTO vv_records (rowid, collection, id, rev, key_id, text, metadata, vector, updated_at) "
    "SELECT rowid, collection, id, rev, key_id, text, metadata, vector, updated_at FROM vv_records_old",
    "DROP TABLE vv_records_old",
    "CREATE INDEX vv_records_by_rev ON vv_records (collection, rev)",
)

# (field, new value as an SQL expression of the old one)
WRONGLY_TYPED = [
    pytest.param("text", "CAST(text AS TEXT) || x'00'", id="text-non-utf8-text"),
    pytest.param("metadata", "CAST(x'ff' || metadata AS TEXT)", id="metadata-non-utf8-text"),
    pytest.param("vector", "CAST(x'c3' || vector AS TEXT)", id="vector-non-utf8-text"),
    pytest.param("text", "'a plain text'", id="text-utf8-text"),
    pytest.param("vector", "5", id="vector-integer"),
    pytest.param("text", "2.5", id="text-real"),
    pytest.param("metadata", "NULL", id="metadata-null"),
    pytest.param("vector", "NULL", id="vector-null"),
]


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- issue 10: wrongly typed values in sealed columns ---------------------------------------------------


@pytest.mark.parametrize(("field", "value"), WRONGLY_TYPED)
def test_a_wrongly_typed_sealed_field_is_an_integrity_error_naming_its_record(
    path: Path, master_key: bytes, field: str, value: str
) -> None:
    tamper(path, *(_ALLOW_NULLS if value == "NULL" else ()), f"UPDATE vv_records SET {field} = {value} WHERE id = 'r1'")
    with Vault.open(path, key=master_key) as vault:
        col = vault.collection("notes")
        with pytest.raises(IntegrityError, match="'r1'"):
            col.get(["r1"])
        with pytest.raises(IntegrityError, match="'r1'"):
            col.get()
        with pytest.raises(IntegrityError, match="'r1'"):
            col.search([1.0] * DIM, k=len(IDS))
        with pytest.raises(IntegrityError, match="'r1'"):
            col.get(filter={"i": {"$gte": 0}})
        assert [r.text for r in col.get(["r0", "r2"])] == [TEXTS[0], TEXTS[2]]
        report = vault.verify()
    assert [(f.collection, f.record_id, f.field) for f in report.failures] == [("notes", "r1", field)]
    assert report.records == len(IDS) and report.fields == 3 * len(IDS)


@pytest.mark.parametrize(("field", "value"), WRONGLY_TYPED[:3])
def test_verify_from_the_cli_names_the_record_and_goes_on(
    capsys: pytest.CaptureFixture[str], path: Path, field: str, value: str
) -> None:
    tamper(path, f"UPDATE vv_records SET {field} = {value} WHERE id = 'r1'")
    code, out, err = _cli(capsys, "verify", str(path))
    assert code == 1, err
    assert f"FAILED 'notes' record 'r1' {field}" in out
    assert "verified 3 records (9 sealed fields) in 1 collections: 1 FAILED fields" in out
    assert "Traceback" not in err and "panicked" not in err


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE vv_records SET text = CAST(text AS TEXT), vector = CAST(vector AS TEXT)", id="records"),
        pytest.param("UPDATE vv_keys SET wrapped = CAST(wrapped AS TEXT)", id="wrapped-keys"),
        pytest.param("UPDATE vv_meta SET value = CAST(value AS TEXT)", id="meta"),
    ],
)
def test_the_same_sealed_bytes_stored_as_text_still_open(path: Path, master_key: bytes, statement: str) -> None:
    # Only the bytes are authenticated, not SQLite's storage class: an untouched value retyped as TEXT
    # (mostly invalid UTF-8) reads back as the same bytes.
    tamper(path, statement)
    with Vault.open(path, key=master_key) as vault:
        col = vault.collection("notes")
        assert [r.text for r in col.get(IDS)] == TEXTS
        assert col.search([0.0, 1.0, 0.0, 0.0], k=1)[0].id == "r1"
        assert vault.verify().ok


def test_a_stored_graph_retyped_as_text_is_rebuilt_not_a_storage_error(path: Path, master_key: bytes) -> None:
    pytest.importorskip("hnswlib")
    with Vault.open(path, key=master_key) as vault:
        col = vault.collection("notes", index="hnsw")
        assert col.search([0.0, 1.0, 0.0, 0.0], k=1)[0].id == "r1"  # builds and stores the sealed graph
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM vv_ann").fetchone()[0] > 0
    finally:
        conn.close()
    tamper(path, "UPDATE vv_ann SET blob = CAST(x'ff' || blob AS TEXT)")
    with Vault.open(path, key=master_key) as vault:
        col = vault.collection("notes", index="hnsw")
        assert col.search([0.0, 1.0, 0.0, 0.0], k=1)[0].id == "r1"


# -- issue 11: a damaged schema version or key table ----------------------------------------------------

DAMAGED_SCHEMA_VERSIONS = [
    pytest.param("'0'", id="zero"),
    pytest.param("'abc'", id="text"),
    pytest.param("x''", id="empty-blob"),
    pytest.param("'-1'", id="negative"),
    pytest.param("4.5", id="real"),
    pytest.param("CAST(x'ff34' AS TEXT)", id="non-utf8"),
]


@pytest.mark.parametrize("value", DAMAGED_SCHEMA_VERSIONS)
def test_a_damaged_schema_version_is_not_a_vault_error_that_says_what_to_do(
    capsys: pytest.CaptureFixture[str], path: Path, master_key: bytes, value: str
) -> None:
    tamper(path, f"UPDATE vv_meta SET value = {value} WHERE key = 'schema_version'")
    with pytest.raises(NotAVaultError, match="schema version") as raised:
        Vault.open(path, key=master_key)
    assert "backup" in str(raised.value) and "vecvault import" in str(raised.value)
    for command in ("info", "verify"):
        code, out, err = _cli(capsys, command, str(path))
        assert code == 1
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("vecvault: error: ") and "schema version" in err


def test_an_integer_schema_version_still_opens(path: Path, master_key: bytes) -> None:
    tamper(path, "UPDATE vv_meta SET value = 4 WHERE key = 'schema_version'")
    with Vault.open(path, key=master_key) as vault:
        assert vault.collection("notes").count() == len(IDS)


DAMAGED_KEY_ROWS = [
    pytest.param("state = 'bogus'", "state", id="unknown-state"),
    pytest.param("state = CAST(x'ff' AS TEXT)", "state", id="non-utf8-state"),
    pytest.param("encryptions = -3", "encryption count", id="negative-count"),
    pytest.param("encryptions = 'x'", "encryption count", id="text-count"),
    pytest.param("encryptions = 1e300", "encryption count", id="real-count"),
    pytest.param("wrapped = NULL", "wrapped", id="live-key-without-material"),
    pytest.param("wrapped = 7", "wrapped", id="integer-material"),
    pytest.param("scope = CAST(x'ff' AS TEXT)", "scope", id="non-utf8-scope"),
]


@pytest.mark.parametrize(("assignment", "what"), DAMAGED_KEY_ROWS)
def test_a_damaged_key_row_is_an_integrity_error_that_names_the_key(
    capsys: pytest.CaptureFixture[str], path: Path, master_key: bytes, assignment: str, what: str
) -> None:
    conn = sqlite3.connect(path)
    try:
        key_id = conn.execute("SELECT key_id FROM vv_keys WHERE scope = 'notes'").fetchone()[0]
    finally:
        conn.close()
    tamper(path, f"UPDATE vv_keys SET {assignment} WHERE key_id = {key_id}")
    with pytest.raises(IntegrityError, match=what) as raised:
        Vault.open(path, key=master_key)
    message = str(raised.value)
    assert str(key_id) in message and "backup" in message
    for command in ("info", "verify"):
        code, out, err = _cli(capsys, command, str(path))
        assert code == 1
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("vecvault: error: ") and what in err


@pytest.fixture
def two_vaults(path: Path, master_key: bytes) -> Iterator[tuple[Vault, Vault]]:
    first = Vault.open(path, key=master_key)
    second = Vault.open(path, key=master_key)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def test_a_key_row_damaged_while_open_is_an_integrity_error_on_reload(
    two_vaults: tuple[Vault, Vault], path: Path
) -> None:
    # Another connection rotates keys; this one picks the rows up (_reload_keys_if_changed) on its next
    # write and must judge them exactly as an open does.
    first, second = two_vaults
    second.rotate_data_keys("notes")
    conn = libsql.connect(str(path), isolation_level=None)  # libSQL: the vaults are open in this process
    try:
        conn.execute("UPDATE vv_keys SET state = 'bogus' WHERE state = 'primary' AND scope = 'notes'")
    finally:
        conn.close()
    with pytest.raises(IntegrityError, match="state"):
        first.collection("notes").add(texts=["x"], vectors=[[1.0] * DIM], ids=["x"])
