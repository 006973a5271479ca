"""Vaults written before field format v2: they open, re-seal into v2 and lose their legacy (v1) keys.

``data/legacy-v1.db`` was written by vecvault before the write version existed (``data/make_legacy_v1.py``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vecvault import IntegrityError, Vault, lifecycle
from vecvault.keys import EnvKeyProvider, StaticKeyProvider
from vecvault.storage import SCHEMA_VERSION

LEGACY = Path(__file__).resolve().parents[2] / "data" / "legacy-v1.db"
KEY = bytes(range(32))
ROOT = Path(__file__).resolve().parents[3]
NOTES = {
    **{f"n{i}": (f"note {i} v2", {"i": i, "acl": "private"}) for i in range(10)},
    **{f"n{i}": (f"note {i} v1", {"i": i, "acl": "public"}) for i in range(10, 39)},
}


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    path = tmp_path / "legacy.db"
    shutil.copyfile(LEGACY, path)
    return path


def _sql(path: Path, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        rows = con.execute(statement, params).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def _formats(path: Path) -> set[int]:
    rows = _sql(path, "SELECT text, metadata, vector FROM vv_records")
    return {blob[0] for row in rows for blob in row}


def _check_content(vault: Vault) -> None:
    notes = vault.collection("notes")
    assert {r.id: (r.text, r.metadata) for r in notes.get()} == NOTES
    assert vault.collection("docs", metric="euclidean").search([0, 1, 0], k=1)[0].id == "b"
    report = vault.verify()
    assert report.ok and report.records == 42


def test_a_legacy_vault_is_resealed_into_v2_when_opened(legacy: Path) -> None:
    assert _formats(legacy) == {1}
    legacy_keys = {r[0] for r in _sql(legacy, "SELECT key_id FROM vv_keys WHERE state != 'destroyed'")}
    with Vault.open(legacy, key=KEY) as vault:
        _check_content(vault)
        assert not vault.core.keys.keyset.has_live_legacy_keys()
        states = {k.key_id: k.state for k in vault.key_info()}
        assert all(states[key_id] == "destroyed" for key_id in legacy_keys)
        assert vault.core.storage.schema_version() == SCHEMA_VERSION
    assert _formats(legacy) == {2}
    with Vault.open(legacy, key=KEY) as vault:  # nothing left to upgrade: the next open rewrites nothing
        before = vault.core.storage.query("SELECT id, rev, text FROM vv_records ORDER BY id")
    with Vault.open(legacy, key=KEY) as vault:
        assert vault.core.storage.query("SELECT id, rev, text FROM vv_records ORDER BY id") == before
        _check_content(vault)


def test_no_v1_field_opens_after_the_upgrade(legacy: Path) -> None:
    # Before the upgrade a v1 field is bound to no write; afterwards none opens any more, alone (recombined
    # with a newer write) or as a whole v1 record put back: the legacy keys are gone.
    old = _sql(legacy, "SELECT rev, key_id, text, metadata, vector FROM vv_records WHERE id = 'n3'")[0]
    with Vault.open(legacy, key=KEY) as vault:
        notes = vault.collection("notes")
        notes.add(texts=["newest"], vectors=[[1, 0, 0, 0]], metadatas=[{"acl": "owner"}], ids=["n3"])
    for columns, values in (("metadata", old[3:4]), ("rev, key_id, text, metadata, vector", old)):
        sets = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
        _sql(legacy, f"UPDATE vv_records SET {sets} WHERE id = 'n3'", values)
        with Vault.open(legacy, key=KEY) as vault:
            with pytest.raises(IntegrityError):
                vault.collection("notes").get(["n3"])
            assert {f.record_id for f in vault.verify().failures} == {"n3"}


def test_a_record_that_does_not_open_stops_the_upgrade_and_the_vault_still_opens(legacy: Path) -> None:
    (blob,) = _sql(legacy, "SELECT text FROM vv_records WHERE id = 'n20'")[0]
    _sql(legacy, "UPDATE vv_records SET text = ? WHERE id = 'n20'", (blob[:-1] + bytes([blob[-1] ^ 1]),))
    with Vault.open(legacy, key=KEY) as vault:
        assert vault.core.keys.keyset.has_live_legacy_keys("notes")  # kept: the records still on them keep opening
        assert not vault.core.keys.keyset.has_live_legacy_keys("docs")  # the other scopes were upgraded
        notes = vault.collection("notes")
        assert notes.get(["n21"])[0].text == "note 21 v1"
        assert [(f.record_id, f.field) for f in vault.verify().failures] == [("n20", "text")]
        with pytest.raises(IntegrityError, match="'n20'"):
            lifecycle.upgrade_legacy_keys(vault.core)
        notes.delete(["n20"])
    with Vault.open(legacy, key=KEY) as vault:  # the next open finishes the upgrade
        assert not vault.core.keys.keyset.has_live_legacy_keys()
        assert vault.collection("notes").count() == 38 and vault.verify().ok
    assert _formats(legacy) == {2}


def test_new_writes_to_a_legacy_scope_use_a_fresh_v2_key(legacy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "upgrade_legacy_keys", lambda vault: [])  # as if the upgrade had not run yet
    with Vault.open(legacy, key=KEY) as vault:
        notes = vault.collection("notes")
        legacy_primary = vault.core.keys.keyset.primary("notes")
        assert legacy_primary.legacy
        notes.add(texts=["fresh"], vectors=[[0, 0, 0, 1]], ids=["fresh"])
        primary = vault.core.keys.keyset.primary("notes")
        assert not primary.legacy and primary is not legacy_primary
        assert notes.get(["fresh", "n11"])[1].text == "note 11 v1"
    monkeypatch.undo()
    with Vault.open(legacy, key=KEY) as vault:
        assert not vault.core.keys.keyset.has_live_legacy_keys()
        assert vault.collection("notes").get(["fresh"])[0].text == "fresh"
        assert vault.verify().ok


def test_master_rotation_of_a_legacy_vault_keeps_its_keys_legacy(legacy: Path, tmp_path: Path) -> None:
    new = StaticKeyProvider(os.urandom(32))
    lifecycle.rotate_master_key(legacy, StaticKeyProvider(KEY), new)  # re-wraps, then opens (and upgrades)
    with Vault.open(legacy, key=new) as vault:
        _check_content(vault)
        assert not vault.core.keys.keyset.has_live_legacy_keys()


UPGRADE = """
import os, sys
from vecvault import lifecycle
from vecvault.engine import VaultCore
from vecvault.keys import EnvKeyProvider
exit_after, batches = int(sys.argv[2]), []

def hook():  # inside the n-th re-sealing transaction, before its commit
    batches.append(1)
    if len(batches) >= exit_after:
        os._exit(70)

core = VaultCore.open(sys.argv[1], key=EnvKeyProvider(), create=False)  # the engine alone does not upgrade
lifecycle.upgrade_legacy_keys(core, batch_size=500, batch_hook=hook)
"""


@pytest.mark.multiprocess
def test_a_killed_upgrade_resumes_and_never_loses_a_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    path = tmp_path / "big-legacy.db"
    shutil.copyfile(LEGACY, path)
    env = dict(os.environ)
    env["VECVAULT_KEY"] = base64.b64encode(KEY).decode()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "core"), env.get("PYTHONPATH", "")])
    monkeypatch.setenv("VECVAULT_KEY", env["VECVAULT_KEY"])
    for after in (1, 2):  # os._exit inside the n-th re-sealing transaction, before its commit
        proc = subprocess.run(
            [sys.executable, "-c", UPGRADE, str(path), str(after)], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 70, proc.stderr
    assert _formats(path) == {1, 2}  # interrupted half way
    with Vault.open(path, key=EnvKeyProvider(), create=False) as vault:
        _check_content(vault)
        assert not vault.core.keys.keyset.has_live_legacy_keys()
    assert _formats(path) == {2}
