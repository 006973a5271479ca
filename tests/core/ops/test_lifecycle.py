"""Key lifecycle: data-key rotation, master-key rotation, file encryption on/off, shredding, verify."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vecvault import IntegrityError, Vault, WrongKeyError, lifecycle
from vecvault.crypto import FieldContext
from vecvault.errors import ConfigurationError, StorageError
from vecvault.keys import KeyFileProvider, StaticKeyProvider
from vecvault.ops import rotation
from vecvault.storage import Storage

DIM = 4
CANARY = "canary-7f3a-lifecycle"


def _add(col, n: int, prefix: str = "r") -> list[str]:
    rng = np.random.default_rng(n)
    ids = [f"{prefix}{i}" for i in range(n)]
    col.add(
        texts=[f"{CANARY} {i}" for i in range(n)],
        vectors=rng.random((n, DIM)),
        metadatas=[{"i": i} for i in range(n)],
        ids=ids,
    )
    return ids


@pytest.fixture
def key() -> StaticKeyProvider:
    return StaticKeyProvider.generate()


@pytest.fixture
def vault(tmp_path: Path, key: StaticKeyProvider) -> Iterator[Vault]:
    v = Vault.open(tmp_path / "v.db", key=key)
    try:
        yield v
    finally:
        v.close()


def _states(vault: Vault, scope: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for info in vault.key_info():
        if info.scope == scope:
            out.setdefault(info.state, []).append(info.key_id)
    return out


# -- data keys -------------------------------------------------------------------------------------------


def test_data_rotation_reseals_every_record_and_destroys_old_key(vault: Vault) -> None:
    col = vault.collection("notes", dim=DIM)
    _add(col, 1200)
    old = _states(vault, "notes")["primary"][0]
    before = {r.id: (r.text, r.metadata, r.vector.tolist()) for r in col.get()}
    calls: list[tuple[int, int]] = []
    reports = vault.rotate_data_keys("notes", batch_size=500, progress=lambda d, t: calls.append((d, t)))
    assert len(reports) == 1
    assert reports[0].resealed == 1200
    assert reports[0].destroyed == (old,)
    assert calls[0] == (0, 1200)
    assert calls[-1] == (1200, 1200)
    assert len(calls) == 4
    states = _states(vault, "notes")
    assert states["destroyed"] == [old]
    assert states["primary"] == [reports[0].primary_key_id]
    infos = {k.key_id: k for k in vault.key_info()}
    assert infos[reports[0].primary_key_id].records == 1200
    assert infos[old].records == 0
    assert {r.id: (r.text, r.metadata, r.vector.tolist()) for r in col.get()} == before
    assert col.search([1, 0, 0, 0], k=3)
    assert vault.verify().ok


def test_rotation_is_seen_by_another_connection(tmp_path: Path, key: StaticKeyProvider) -> None:
    with Vault.open(tmp_path / "v.db", key=key) as a, Vault.open(tmp_path / "v.db", key=key) as b:
        col_a = a.collection("notes", dim=DIM)
        _add(col_a, 50)
        col_b = b.collection("notes")
        assert len(col_b.search([1, 0, 0, 0], k=50)) == 50  # b loads its index before the rotation
        a.rotate_data_keys("notes", batch_size=7)
        assert len(col_b.search([1, 0, 0, 0], k=50)) == 50
        assert sorted(r.text for r in col_b.get()) == sorted(f"{CANARY} {i}" for i in range(50))
        col_b.add(texts=["new"], vectors=[[1, 1, 1, 1]], ids=["n"])  # b writes with the new primary
        assert _states(a, "notes").get("enabled") is None
        assert a.collection("notes").get(["n"])[0].text == "new"


def test_rotation_reseals_every_record_when_collections_interleave_and_writers_add(vault: Vault) -> None:
    # Records of two collections interleave in rowid order; a writer adds mid-rotation. One pass per
    # round re-seals every record still on an old key; nothing is left behind.
    a, b = vault.collection("a", dim=DIM), vault.collection("b", dim=DIM)
    for i in range(6):
        _add(a, 7, prefix=f"a{i}-")
        _add(b, 5, prefix=f"b{i}-")
    _, old_ids, _ = rotation._start_rotation(vault.core, "a")
    moved, after = rotation._reseal_batch(vault.core, "a", old_ids, 9, 0)
    assert moved == 9
    _add(a, 4, prefix="late-")  # written under the new primary: the pass skips it
    done = moved
    while after >= 0:
        moved, after = rotation._reseal_batch(vault.core, "a", old_ids, 9, after)
        done += moved
    assert done == 42
    assert rotation._count_on(vault.core, "a", old_ids) == 0
    assert rotation._count_on(vault.core, "b", [k.key_id for k in vault.core.keys.keyset.in_scope("b")]) == 30
    assert {r.id for r in a.get()} >= {f"a{i}-{j}" for i in range(6) for j in range(7)}
    assert vault.verify().ok


def test_rotate_all_scopes_and_resume_after_interrupted_batches(vault: Vault) -> None:
    a, b = vault.collection("a", dim=DIM), vault.collection("b", dim=DIM)
    _add(a, 30)
    _add(b, 20)
    old_a = _states(vault, "a")["primary"][0]
    # Start a rotation by hand and stop after one batch, as a crash would.
    primary, old_ids, resumed = rotation._start_rotation(vault.core, "a")
    assert old_ids == [old_a]
    assert not resumed
    moved, after = rotation._reseal_batch(vault.core, "a", old_ids, 10, 0)
    assert moved == 10 and after > 0
    assert vault.verify().ok
    reports = {r.scope: r for r in vault.rotate_data_keys()}
    assert set(reports) == {"a", "b", ""}
    assert reports["a"].resumed
    assert reports["a"].primary_key_id == primary
    assert reports["a"].resealed == 20
    assert reports["a"].destroyed == (old_a,)
    assert not reports["b"].resumed
    assert reports["b"].resealed == 20
    for scope in ("a", "b", ""):
        assert "enabled" not in _states(vault, scope)
    assert vault.verify().ok
    assert a.count() == 30
    assert b.count() == 20


def test_rotate_unknown_collection_and_bad_batch_size(vault: Vault) -> None:
    with pytest.raises(ConfigurationError, match="No collection named"):
        vault.rotate_data_keys("nope")
    with pytest.raises(ConfigurationError, match="batch_size"):
        vault.rotate_data_keys(batch_size=0)


def test_rotation_refuses_a_tampered_record_and_writes_nothing_of_its_batch(tmp_path: Path, key) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=key, file_encryption=False) as vault:
        _add(vault.collection("notes", dim=DIM), 5)
    conn = Storage.open(str(path), file_key=None)
    try:
        blob = conn.query("SELECT text FROM vv_records WHERE id = 'r3'")[0][0]
        with conn.transaction():
            conn.query("UPDATE vv_records SET text = ? WHERE id = 'r3'", (blob[:-1] + bytes([blob[-1] ^ 1]),))
    finally:
        conn.close()
    with Vault.open(path, key=key) as vault:
        report = vault.verify()
        assert [(f.collection, f.record_id, f.field) for f in report.failures] == [("notes", "r3", "text")]
        assert CANARY not in report.failures[0].reason
        with pytest.raises(IntegrityError):
            vault.rotate_data_keys("notes")
        # The old key was kept: every other record still opens, and nothing was destroyed.
        assert "destroyed" not in _states(vault, "notes")
        assert len(vault.collection("notes").get(["r0", "r1", "r2", "r4"])) == 4


def _edit(path: Path, statement: str, params: tuple[object, ...] = ()) -> None:
    """Change the unencrypted file behind the vault's back, as someone holding it could."""
    conn = Storage.open(str(path), file_key=None)
    try:
        with conn.transaction():
            conn.query(statement, params)
    finally:
        conn.close()


def test_a_key_id_column_edit_never_makes_rotation_destroy_a_key_in_use(tmp_path: Path, key) -> None:
    # The report: UPDATE vv_records SET key_id = 0, then rotate: nothing was re-sealed, the key every record
    # still used was destroyed, and every record was lost.
    path = tmp_path / "v.db"
    with Vault.open(path, key=key, file_encryption=False) as vault:
        before = {r.id: (r.text, r.metadata) for r in _records(vault.collection("notes", dim=DIM), 30)}
    _edit(path, "UPDATE vv_records SET key_id = 0")
    with Vault.open(path, key=key) as vault:
        (report,) = vault.rotate_data_keys("notes", batch_size=7)
        assert report.resealed == 30
        assert vault.verify().ok
        assert {r.id: (r.text, r.metadata) for r in vault.collection("notes").get()} == before
        assert vault.collection("notes").search([1, 0, 0, 0], k=30)


def _records(col, n: int):
    _add(col, n)
    return col.get()


@pytest.mark.parametrize("named", ["primary", "unknown"])
def test_rotation_refuses_to_destroy_a_key_a_field_may_still_need(tmp_path: Path, key, named: str) -> None:
    # A header edited to name another key (the new primary, or one the vault never had) makes the field
    # fail to open; putting it back makes it open again, but only while its real key lives. Rotation must
    # stop, name the record and destroy nothing.
    path = tmp_path / "v.db"
    with Vault.open(path, key=key, file_encryption=False) as vault:
        _add(vault.collection("notes", dim=DIM), 12)
        _, old_ids, _ = rotation._start_rotation(vault.core, "notes")
        primary = vault.core.keys.keyset.primary("notes").key_id
    conn = Storage.open(str(path), file_key=None)
    try:
        (blob,) = conn.query("SELECT metadata FROM vv_records WHERE id = 'r4'")[0]
    finally:
        conn.close()
    other = primary if named == "primary" else 7
    edited = blob[:1] + other.to_bytes(4, "big") + blob[5:]
    _edit(path, "UPDATE vv_records SET metadata = ?, key_id = ? WHERE id = 'r4'", (edited, primary))
    with Vault.open(path, key=key) as vault:
        with pytest.raises(IntegrityError, match="'r4'"):
            vault.rotate_data_keys("notes")
        assert "destroyed" not in _states(vault, "notes")
    _edit(path, "UPDATE vv_records SET metadata = ? WHERE id = 'r4'", (blob,))
    with Vault.open(path, key=key) as vault:
        assert vault.collection("notes").get(["r4"])[0].metadata == {"i": 4}
        (report,) = vault.rotate_data_keys("notes")
        assert set(old_ids) <= set(report.destroyed)
        assert vault.verify().ok


def test_a_field_sealed_under_an_old_key_after_the_pass_sends_rotation_round_again(vault: Vault) -> None:
    col = vault.collection("notes", dim=DIM)
    _add(col, 20)
    _, old_ids, _ = rotation._start_rotation(vault.core, "notes")
    after = 0
    while after >= 0:
        _, after = rotation._reseal_batch(vault.core, "notes", old_ids, 8, after)
    # A writer with a stale view seals one record under the old key (still enabled) after the pass.
    old = vault.core.keys.keyset.get(old_ids[0])
    assert old is not None
    storage = vault.core.storage
    with vault.core.write("notes", 3):
        _, rev = storage.bump_revision("notes")
        keys = vault.core.keys
        sealed = [
            keys.keyset.seal_with_key(old, value, FieldContext(keys.vault_id, "notes", "r3", field, rev))
            for field, value in (("text", b"stale"), ("metadata", b"{}"), ("vector", bytes(4 * DIM)))
        ]
        storage.upsert_records("notes", rev, 0, ["r3"], *([s] for s in sealed))
    assert rotation._destroy_unused(vault.core, "notes", old_ids) is None  # the final check saw it: nothing destroyed
    (report,) = vault.rotate_data_keys("notes")
    assert report.resumed and report.resealed == 1 and set(old_ids) <= set(report.destroyed)
    assert col.get(["r3"])[0].text == "stale"
    assert vault.verify().ok


# -- master key ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("file_encryption", [True, False])
def test_master_rotation_rewraps_and_rekeys(tmp_path: Path, file_encryption: bool) -> None:
    path = tmp_path / "v.db"
    old, new = KeyFileProvider(tmp_path / "old.key"), KeyFileProvider(tmp_path / "new.key")
    with Vault.open(path, key=old, file_encryption=file_encryption) as vault:
        _add(vault.collection("notes", dim=DIM), 40)
        rows_before = vault.core.storage.query("SELECT id, text FROM vv_records ORDER BY id")
    result = lifecycle.rotate_master_key(path, old, new)
    assert result.rewrapped == 2
    assert result.file_rekeyed is file_encryption
    assert not result.already_done
    assert (tmp_path / "new.key").exists()  # created by the new provider before the vault changed
    with pytest.raises(WrongKeyError):
        Vault.open(path, key=old, create=False)
    head = path.read_bytes()[:16]
    assert (head != b"SQLite format 3\x00") is file_encryption
    with Vault.open(path, key=new, create=False) as vault:
        assert vault.file_encrypted is file_encryption
        # No record was rewritten: the sealed blobs are byte for byte the same.
        assert vault.core.storage.query("SELECT id, text FROM vv_records ORDER BY id") == rows_before
        assert vault.verify().ok
        assert vault.collection("notes").count() == 40
    again = lifecycle.rotate_master_key(path, old, new)
    assert again.already_done
    assert again.rewrapped == 0


def test_master_rotation_resumes_from_a_half_done_state(tmp_path: Path) -> None:
    """Data keys already re-wrapped, file still under the old key: a re-run finishes the job."""
    path = tmp_path / "v.db"
    old, new = StaticKeyProvider.generate(), StaticKeyProvider.generate()
    from vecvault import crypto

    with Vault.open(path, key=old) as vault:
        _add(vault.collection("notes", dim=DIM), 10)
    storage = Storage.open(str(path), file_key=crypto.derive_file_key(old.load_key()))
    try:
        vault_id = storage.get_meta("vault_id")
        assert vault_id is not None
        rows = storage.load_keys()
        old_kek = crypto.derive_kek(old.load_key(), vault_id)
        new_kek = crypto.derive_kek(new.load_key(), vault_id)
        with storage.transaction():
            for row in rows:
                material = crypto.unwrap_data_key(old_kek, vault_id, row.key_id, row.wrapped)
                wrapped = crypto.wrap_data_key(new_kek, vault_id, row.key_id, material)
                storage.update_key(row.__class__(row.key_id, row.scope, row.state, wrapped, row.encryptions))
    finally:
        storage.close()
    for provider in (old, new):
        with pytest.raises(WrongKeyError):
            Vault.open(path, key=provider, create=False)
    result = lifecycle.rotate_master_key(path, old, new)
    assert result.rewrapped == 0
    assert result.file_rekeyed
    with Vault.open(path, key=new, create=False) as vault:
        assert vault.verify().ok
        assert vault.collection("notes").count() == 10


def test_master_rotation_with_a_wrong_old_key_changes_nothing(tmp_path: Path, key) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=key) as vault:
        _add(vault.collection("notes", dim=DIM), 3)
    before = path.read_bytes()
    with pytest.raises(WrongKeyError):
        lifecycle.rotate_master_key(path, StaticKeyProvider.generate(), StaticKeyProvider.generate())
    assert path.read_bytes() == before
    with Vault.open(path, key=key, create=False) as vault:
        assert vault.collection("notes").count() == 3


def test_master_rotation_refuses_while_another_connection_is_open(tmp_path: Path, key) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=key) as vault:
        _add(vault.collection("notes", dim=DIM), 3)
        with pytest.raises(StorageError, match="another program"):
            lifecycle.rotate_master_key(path, key, StaticKeyProvider.generate())
    with Vault.open(path, key=key, create=False) as vault:
        assert vault.verify().ok


# -- file encryption -------------------------------------------------------------------------------------


def test_file_encryption_off_and_on(tmp_path: Path, key) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=key) as vault:
        _add(vault.collection("notes", dim=DIM), 20)
    assert lifecycle.set_file_encryption(path, key, enabled=False)
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    assert not lifecycle.set_file_encryption(path, key, enabled=False)
    with Vault.open(path, key=key, create=False) as vault:
        assert not vault.file_encrypted
        assert vault.verify().ok
    assert lifecycle.set_file_encryption(path, key, enabled=True)
    assert path.read_bytes()[:16] != b"SQLite format 3\x00"
    with Vault.open(path, key=key, create=False) as vault:
        assert vault.file_encrypted
        assert vault.collection("notes").count() == 20
    with pytest.raises(WrongKeyError):
        lifecycle.set_file_encryption(path, StaticKeyProvider.generate(), enabled=False)


# -- shredding -------------------------------------------------------------------------------------------


def _files(path: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(str(path) + suffix)
        if p.exists():
            data += p.read_bytes()
    return data


def _blobs(vault: Vault, collection: str, ids: list[str]) -> list[bytes]:
    marks = ",".join("?" * len(ids))
    rows = vault.core.storage.query(
        f"SELECT text, metadata, vector FROM vv_records WHERE collection = ? AND id IN ({marks})",
        (collection, *ids),
    )
    return [bytes(b) for row in rows for b in row]


def test_delete_leaves_no_ciphertext_in_the_files(tmp_path: Path, key) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=key, file_encryption=False) as vault:  # the sealed blobs are visible on disk
        col = vault.collection("notes", dim=DIM)
        _add(col, 200)
        vault.core.storage.checkpoint()
        by_id = _blobs(vault, "notes", ["r5", "r6"])
        by_filter = _blobs(vault, "notes", ["r7"])
        kept = _blobs(vault, "notes", ["r8"])
        on_disk = _files(path)
        assert all(b in on_disk for b in by_id + by_filter + kept)  # the scan can find them
        assert col.delete(["r5", "r6"]) == 2
        assert col.delete(filter={"i": 7}) == 1
        on_disk = _files(path)
        assert not any(b in on_disk for b in by_id + by_filter)
        assert all(b in on_disk for b in kept)
    on_disk = _files(path)
    assert not any(b in on_disk for b in by_id + by_filter)


def test_shred_destroys_keys_and_leaves_no_ciphertext(tmp_path: Path, key) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=key, file_encryption=False) as vault:
        gone, kept = vault.collection("gone", dim=DIM), vault.collection("kept", dim=DIM)
        _add(gone, 50)
        _add(kept, 5)
        vault.core.storage.checkpoint()
        blobs = _blobs(vault, "gone", [f"r{i}" for i in range(50)])
        wrapped = [r.wrapped for r in vault.core.storage.load_keys() if r.scope == "gone"]
        assert all(b in _files(path) for b in blobs + wrapped)
        assert vault.shred("gone") == 50
        assert vault.collections() == ["kept"]
        assert _states(vault, "gone") == {"destroyed": _states(vault, "gone")["destroyed"]}
        data = _files(path)
        assert not any(b in data for b in blobs + wrapped)
        with pytest.raises(ConfigurationError):
            vault.shred("gone")
        assert vault.shred_all() == ["kept"]
        assert vault.collections() == []
        assert all(k.state == "destroyed" or (k.scope == "" and k.state == "primary") for k in vault.key_info())
        # A collection of the same name starts over with a fresh key.
        again = vault.collection("gone", dim=DIM)
        again.add(texts=["x"], vectors=[[1, 2, 3, 4]], ids=["x"])
        assert again.get(["x"])[0].text == "x"


def test_lifecycle_does_not_work_on_missing_or_remote_vaults(tmp_path: Path, key) -> None:
    with pytest.raises(ConfigurationError, match="No vault"):
        lifecycle.rotate_master_key(tmp_path / "none.db", key, key)
    with pytest.raises(ConfigurationError, match="local vault files"):
        lifecycle.set_file_encryption("libsql://example.invalid", key, enabled=True)


def test_key_info_holds_no_material(vault: Vault) -> None:
    _add(vault.collection("notes", dim=DIM), 3)
    text = repr(vault.key_info())
    for row in vault.core.storage.load_keys():
        assert row.wrapped is None or row.wrapped.hex() not in text
    assert os.fspath(vault.location)
