"""The file layer: reading a hot journal's page 1, orphan sidecars, page-key fingerprints, weak master keys."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vecvault import Vault, crypto, file_layer
from vecvault.backup import export_vault, import_bundle
from vecvault.cli import main
from vecvault.errors import ConfigurationError, StorageError
from vecvault.keys import KeyFileProvider, StaticKeyProvider
from vecvault.keys._codec import encode_key
from vecvault.storage import Storage

ROOT = Path(__file__).resolve().parents[3]
PAGE = 4096
SECTOR = 512
MAGIC = b"SQLite format 3\x00"


def _journal(
    records: list[tuple[int, bytes]], *, nonce: int = 7, count: int | None = None, bad_sum: bool = False
) -> bytes:
    header = struct.pack(
        ">8sIIIII", bytes.fromhex("d9d505f920a163d7"), len(records) if count is None else count, nonce, 10, SECTOR, PAGE
    )
    out = header.ljust(SECTOR, b"\x00")
    for number, page in records:
        checksum = (file_layer._checksum(nonce, page) + (1 if bad_sum else 0)) & 0xFFFFFFFF
        out += struct.pack(">I", number) + page + struct.pack(">I", checksum)
    return out


def _page(head: bytes) -> bytes:
    return (head + os.urandom(PAGE))[:PAGE]


def _vault_file(tmp_path: Path) -> Path:
    path = tmp_path / "v.db"
    path.write_bytes(_page(b"\x33" * 16) * 3)  # stands in for an encrypted file: only its head is read
    return path


def test_no_journal_an_empty_one_or_a_zeroed_header_is_not_hot(tmp_path: Path) -> None:
    path = _vault_file(tmp_path)
    journal = Path(str(path) + "-journal")
    assert file_layer.journal_page_one(str(path)) is None
    journal.write_bytes(b"")
    assert file_layer.journal_page_one(str(path)) is None
    journal.write_bytes(b"\x00" * 4096)
    assert file_layer.journal_page_one(str(path)) is None
    journal.write_bytes(_journal([(1, _page(MAGIC))])[:600])  # cut inside the first record
    assert file_layer.journal_page_one(str(path)) is None
    assert not file_layer.file_state(str(path)).hot_journal


def test_the_journals_copy_of_page_one_is_the_truth(tmp_path: Path) -> None:
    path = _vault_file(tmp_path)
    journal = Path(str(path) + "-journal")
    journal.write_bytes(_journal([(3, _page(b"x")), (1, _page(MAGIC)), (2, _page(b"y"))]))
    assert file_layer.journal_page_one(str(path)) == MAGIC
    state = file_layer.file_state(str(path))
    assert (state.kind, state.hot_journal) == ("plain", True)  # although the file itself looks encrypted
    # A record count of 0 (a crash before the header was updated) means "to the end of the file".
    journal.write_bytes(_journal([(1, _page(MAGIC))], count=0))
    assert file_layer.journal_page_one(str(path)) == MAGIC
    # An encrypted copy: its first bytes are the previous key's fingerprint.
    journal.write_bytes(_journal([(1, _page(b"\xab" * 16))]))
    state = file_layer.file_state(str(path))
    assert (state.kind, state.fingerprint, state.hot_journal) == ("encrypted", b"\xab" * 8, True)


def test_a_torn_plain_record_is_not_trusted(tmp_path: Path) -> None:
    path = _vault_file(tmp_path)
    Path(str(path) + "-journal").write_bytes(_journal([(1, _page(MAGIC))], bad_sum=True))
    assert file_layer.journal_page_one(str(path)) is None
    assert file_layer.file_state(str(path)).kind == "encrypted"


def test_a_missing_vault_file_wins_over_its_journal(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    Path(str(path) + "-journal").write_bytes(_journal([(1, _page(MAGIC))]))
    assert file_layer.file_state(str(path)).kind == "new"


def test_the_page_key_fingerprint_is_what_files_under_that_key_start_with(tmp_path: Path) -> None:
    master = os.urandom(32)
    path = tmp_path / "v.db"
    with Vault.open(path, key=master) as vault:
        vault.collection("c", dim=2).add(texts=["a"], vectors=[[1.0, 0.0]])
    fingerprint = Storage.page_key_fingerprint(crypto.derive_file_key(master))
    assert path.read_bytes()[: file_layer.FINGERPRINT_BYTES] == fingerprint
    assert Storage.page_key_fingerprint(crypto.derive_file_key(os.urandom(32))) != fingerprint
    assert file_layer.file_state(str(path)).fingerprint == fingerprint


@pytest.mark.parametrize("suffix", file_layer.SIDECAR_SUFFIXES)
def test_no_vault_is_created_over_an_orphan_sidecar(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "v.db"
    sidecar = Path(str(path) + suffix)
    sidecar.write_bytes(b"left by a crashed process")
    with pytest.raises(StorageError, match=rf"v\.db{suffix}"):
        Vault.open(path, key=os.urandom(32))
    assert not path.exists()
    assert sidecar.read_bytes() == b"left by a crashed process"


def test_init_refuses_an_orphan_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "v.db"
    Path(str(path) + "-wal").write_bytes(b"x" * 100)
    key_file = tmp_path / "k.key"
    key_file.write_text(encode_key(os.urandom(32)))
    key_file.chmod(0o600)
    assert main(["init", str(path), "--key-file", str(key_file)]) == 1
    assert "v.db-wal" in capsys.readouterr().err
    assert not path.exists()


CRASH_WRITER = """
import os, sys
import numpy as np
from vecvault import Vault
vault = Vault.open(sys.argv[1], key=bytes.fromhex(sys.argv[2]))
vault.collection("old", dim=4).add(texts=["old secret"] * 50, vectors=np.ones((50, 4)))
os._exit(0)  # a crash: no close, no checkpoint; the WAL keeps the frames
"""


def test_an_import_over_a_crashed_vaults_wal_is_refused(tmp_path: Path) -> None:
    master = os.urandom(32)
    target = tmp_path / "restored.db"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "core"), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", CRASH_WRITER, str(target), master.hex()], env=env, check=True)
    wal = Path(str(target) + "-wal")
    assert wal.stat().st_size > 0
    target.unlink()  # the user deletes the vault, not its WAL
    source = tmp_path / "source.db"
    with Vault.open(source, key=master) as vault:
        vault.collection("new", dim=4).add(texts=["new"], vectors=np.ones((1, 4)))
        export_vault(vault, tmp_path / "b.vvb")
    with pytest.raises(StorageError, match=r"restored\.db-wal"):
        import_bundle(tmp_path / "b.vvb", target, key=master)
    assert not target.exists()
    for sidecar in file_layer.SIDECAR_SUFFIXES:
        Path(str(target) + sidecar).unlink(missing_ok=True)
    import_bundle(tmp_path / "b.vvb", target, key=master)  # the fix the message names
    with Vault.open(target, key=master, create=False) as vault:
        assert vault.collections() == ["new"]


@pytest.mark.parametrize("weak", [b"\x00" * 32, b"\xff" * 32, b"ab" * 16, bytes(range(4)) * 8])
def test_a_master_key_that_is_not_random_is_refused(tmp_path: Path, weak: bytes) -> None:
    with pytest.raises(ConfigurationError, match="not a random key"):
        Vault.open(tmp_path / "v.db", key=StaticKeyProvider(weak))
    assert not (tmp_path / "v.db").exists()


def test_a_vault_under_a_weak_key_can_move_to_a_random_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    weak = b"\x00" * 32
    path = tmp_path / "v.db"
    with monkeypatch.context() as patched:  # as an earlier vecvault allowed it
        patched.setattr(crypto, "check_master_key", lambda key: None)
        with Vault.open(path, key=weak) as vault:
            vault.collection("c", dim=2).add(texts=["kept"], vectors=[[1.0, 0.0]], ids=["a"])
    with pytest.raises(ConfigurationError, match="rotate --master"):
        Vault.open(path, key=weak, create=False)
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    old_file.write_text(encode_key(weak))
    old_file.chmod(0o600)
    args = ["rotate", "--master", str(path), "--key-file", str(old_file), "--new-key-file", str(new_file)]
    assert main(args) == 0, capsys.readouterr().err
    with Vault.open(path, key=KeyFileProvider(new_file), create=False) as vault:
        assert [r.text for r in vault.collection("c").get(["a"])] == ["kept"]
    weak_new = tmp_path / "weak-new.key"
    weak_new.write_text(encode_key(b"\x01" * 32))
    weak_new.chmod(0o600)
    assert main(["rotate", "--master", str(path), "--key-file", str(new_file), "--new-key-file", str(weak_new)]) == 1


def test_a_path_with_a_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    key = os.urandom(32)
    with Vault.open("~/notes.db", key=key) as vault:
        assert vault.location == str(tmp_path / "notes.db")
    assert (tmp_path / "notes.db").exists()
    assert not Path("~").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: "", "path is empty"),
        (lambda p: "   ", "path is empty"),
        (lambda p: str(p), "is a directory"),
        (lambda p: str(p / "missing" / "v.db"), r"does not exist.*mkdir -p"),
        (lambda p: str(p / "afile" / "v.db"), "is a file, not a directory"),
    ],
    ids=["empty", "blank", "directory", "missing-parent", "parent-is-a-file"],
)
def test_a_bad_path_names_the_problem(tmp_path: Path, make: object, message: str) -> None:
    (tmp_path / "afile").write_text("x")
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigurationError, match=message):
        Vault.open(path, key=os.urandom(32))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing created anywhere
