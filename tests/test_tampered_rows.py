"""A vault file altered outside vecvault, with the stdlib sqlite3 module on an unencrypted file.

Issue 10: a sealed column holding a value of the wrong storage class (non-UTF-8 TEXT, INTEGER, REAL, NULL)
is an ``IntegrityError`` that names the record, and ``verify`` reports that record and field and goes on;
never a binding panic (``StorageError``) or a ``TypeError``.

Alterations go through sqlite3 only while no vault has the file open (two SQLite libraries in one process
do not see each other's locks).
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from vecvault import IntegrityError, Vault
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
