"""The ``vecvault`` command: every subcommand in-process through ``main(argv)``, and the entry points in a
subprocess (``python -m vecvault``)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import numpy as np
import pytest

from vecvault import Vault, WrongKeyError, lifecycle
from vecvault.cli import COMMANDS, build_parser, main
from vecvault.keys import EnvKeyProvider, KeyFileProvider, KeyringKeyProvider

ROOT = Path(__file__).resolve().parents[3]
CANARY_TEXT = "canary-text-5d1e"
CANARY_META = "canary-meta-77ab"


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    value = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("VECVAULT_KEY", value)
    return value


@pytest.fixture
def vault_path(tmp_path: Path, key_env: str) -> Path:
    path = tmp_path / "v.db"
    with Vault.open(path, key=EnvKeyProvider()) as vault:
        col = vault.collection("notes", dim=4, model="tiny-model")
        col.add(
            texts=[f"{CANARY_TEXT} {i}" for i in range(30)],
            vectors=np.random.default_rng(0).random((30, 4)),
            metadatas=[{"secret": CANARY_META, "i": i} for i in range(30)],
        )
        vault.collection("other", dim=2, metric="dot").add(texts=["x"], vectors=[[1, 2]], ids=["x"])
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out
        code, out_cmd, _ = run(capsys, command, "--help")
        assert code == 0
        assert f"usage: vecvault {command}" in out_cmd
    assert set(COMMANDS) == set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


RELATIVE_DOCS = re.compile(r"(?<![\w/.-])docs/")  # docs/x.md, but not https://.../blob/main/docs/x.md


def _all_help(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    texts = {}
    for argv in (["--help"], *([command, "--help"] for command in COMMANDS)):
        code, out, err = run(capsys, *argv)
        assert code == 0
        texts[" ".join(argv)] = out + err
    return texts


def test_help_never_points_at_a_docs_folder_a_pip_user_lacks(capsys: pytest.CaptureFixture[str]) -> None:
    texts = _all_help(capsys)
    for argv, text in texts.items():
        assert not RELATIVE_DOCS.search(text), f"vecvault {argv}: {RELATIVE_DOCS.search(text)}"
        for url in re.findall(r"https?://\S+", text):
            assert url.startswith("https://github.com/vecvault/vecvault/blob/main/"), url
            path = url.removeprefix("https://github.com/vecvault/vecvault/blob/main/").split("#")[0]
            assert (ROOT / path).is_file(), url
    assert RELATIVE_DOCS.search("see docs/key-management.md")  # the pattern does catch a relative path


def test_help_carries_the_recovery_steps(capsys: pytest.CaptureFixture[str]) -> None:
    texts = _all_help(capsys)
    main_help = texts["--help"]
    assert 'service "vecvault", account\n  "default"' in main_help  # where the key lives by default
    assert "keyring get vecvault default" in main_help  # how to back it up
    assert "Run the same command again" in main_help  # after an interruption
    assert "-journal" in main_help
    assert "does not reach old backups" in main_help
    assert "run the same command again" in texts["rotate --help"]
    assert ".previous-<tag>" in texts["rotate --help"]
    assert "does not reach old backups" in texts["shred --help"]
    assert "rotate --master" in texts["shred --help"]
    assert "run it again" in texts["import --help"]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["info"],
        ["rotate", "x.db"],
        ["rotate", "--master", "--data", "x.db"],
        ["rotate", "--data", "--batch-size", "0", "x.db"],
        ["info", "x.db", "--key-env", "A", "--key-file", "B"],
        ["info", "x.db", "--keyring", "no-slash"],
    ],
)
def test_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], key_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    if argv[:1] == ["info"] and "--keyring" in argv:
        (tmp_path / "x.db").write_bytes(b"")
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "vecvault" in err
    assert "error" in err


def test_init_info_verify(capsys, tmp_path: Path, key_env: str, vault_path: Path) -> None:
    code, out, _ = run(capsys, "init", str(tmp_path / "new.db"))
    assert code == 0
    assert "file encryption: on" in out
    assert "environment variable VECVAULT_KEY" in out
    code, _, err = run(capsys, "init", str(tmp_path / "new.db"))
    assert code == 1
    assert err.startswith("vecvault: error:")
    assert "Traceback" not in err
    code, out, err = run(capsys, "info", str(vault_path))
    assert code == 0
    assert "notes: 30 records, dim 4, cosine, vectors sealed, model tiny-model" in out
    assert "other: 1 records" in out
    assert "primary" in out
    assert "file encryption: on" in out
    code, js, _ = run(capsys, "info", "--json", str(vault_path))
    data = json.loads(js)
    assert {c["name"] for c in data["collections"]} == {"notes", "other"}
    assert all(set(k) == {"key_id", "scope", "state", "encryptions", "records"} for k in data["data_keys"])
    for text in (out + err, js):
        assert CANARY_TEXT not in text
        assert CANARY_META not in text
        assert key_env not in text
        assert key_env.rstrip("=") not in text
    code, out, _ = run(capsys, "verify", str(vault_path))
    assert code == 0
    assert "verified 31 records" in out
    assert ": ok" in out


def test_verify_reports_a_tampered_record(capsys, tmp_path: Path, key_env: str) -> None:
    path = tmp_path / "plain.db"
    code, _, _ = run(capsys, "init", "--no-file-encryption", str(path))
    assert code == 0
    with Vault.open(path, key=EnvKeyProvider()) as vault:
        vault.collection("notes", dim=2).add(texts=["a", "b"], vectors=[[1, 0], [0, 1]], ids=["a", "b"])
        storage = vault.core.storage
        blob = storage.query("SELECT metadata FROM vv_records WHERE id = 'b'")[0][0]
        with storage.transaction():
            storage.query("UPDATE vv_records SET metadata = ? WHERE id = 'b'", (blob[:-1] + b"\x00",))
    code, out, _ = run(capsys, "verify", str(path))
    assert code == 1
    assert "FAILED 'notes' record 'b' metadata" in out
    assert "1 FAILED" in out


def test_wrong_key_is_one_line_exit_1(capsys, vault_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_KEY", base64.b64encode(os.urandom(32)).decode())
    code, out, err = run(capsys, "info", "--key-env", "OTHER_KEY", str(vault_path))
    assert code == 1
    assert out == ""
    assert err.startswith("vecvault: error:")
    assert err.count("\n") == 1
    code, _, err = run(capsys, "info", str(vault_path.parent / "missing.db"))
    assert code == 1
    assert "No vault" in err


def test_rotate_data_and_file(capsys, vault_path: Path) -> None:
    before = {k.key_id for k in Vault.open(vault_path, key=EnvKeyProvider()).key_info()}
    code, out, _ = run(capsys, "rotate", "--data", "--collection", "notes", "--batch-size", "7", str(vault_path))
    assert code == 0
    assert "30 records re-sealed" in out
    code, out, _ = run(capsys, "rotate", "--data", str(vault_path))
    assert code == 0
    assert out.count("rotated") == 3
    code, out, _ = run(capsys, "rotate", "--file", "--off", str(vault_path))
    assert code == 0
    assert "file encryption off" in out
    assert vault_path.read_bytes()[:6] == b"SQLite"
    code, out, _ = run(capsys, "rotate", "--file", str(vault_path))
    assert code == 0
    assert vault_path.read_bytes()[:6] != b"SQLite"
    with Vault.open(vault_path, key=EnvKeyProvider()) as vault:
        infos = vault.key_info()
        assert all(k.state == "destroyed" for k in infos if k.key_id in before)
        assert vault.verify().ok
    code, _, err = run(capsys, "rotate", "--data", "--collection", "nope", str(vault_path))
    assert code == 1
    assert "No collection named" in err


def test_rotate_master_to_a_new_key_file(capsys, tmp_path: Path, vault_path: Path) -> None:
    new_key = tmp_path / "new.key"
    code, _, err = run(capsys, "rotate", "--master", str(vault_path))
    assert code == 2  # an env key cannot be rotated in place: the new key's location is required
    assert "--new-key-file" in err
    code, out, _ = run(capsys, "rotate", "--master", "--new-key-file", str(new_key), str(vault_path))
    assert code == 0
    assert "data keys re-wrapped, file re-keyed" in out
    assert not RELATIVE_DOCS.search(out)
    with pytest.raises(WrongKeyError):
        Vault.open(vault_path, key=EnvKeyProvider(), create=False)
    code, out, _ = run(capsys, "info", "--key-file", str(new_key), str(vault_path))
    assert code == 0
    assert "notes: 30 records" in out


def test_passphrase_init_and_passwd(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.db"
    monkeypatch.delenv("VECVAULT_KEY", raising=False)
    monkeypatch.setenv("VECVAULT_PASSPHRASE", "first passphrase")
    code, out, _ = run(capsys, "init", "--passphrase", str(path))
    assert code == 0
    assert "p.db.vvkey" in out
    monkeypatch.setenv("VECVAULT_NEW_PASSPHRASE", "second passphrase")
    code, out, _ = run(capsys, "passwd", "--passphrase", str(path))
    assert code == 0
    assert "passphrase changed" in out
    code, _, err = run(capsys, "info", "--passphrase", str(path))
    assert code == 1  # VECVAULT_PASSPHRASE still holds the old passphrase
    assert "Wrong passphrase" in err
    monkeypatch.setenv("VECVAULT_PASSPHRASE", "second passphrase")
    code, _, _ = run(capsys, "info", "--passphrase-file", f"{path}.vvkey", str(path))
    assert code == 0
    code, _, err = run(capsys, "passwd", str(path))
    assert code == 2
    assert "--passphrase" in err


def test_shred(capsys, vault_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    devnull = open(os.devnull)  # noqa: SIM115 (closed at the end of the test)
    monkeypatch.setattr("sys.stdin", devnull)
    code, _, err = run(capsys, "shred", str(vault_path), "notes")
    assert code == 1
    assert "--yes" in err
    code, out, _ = run(capsys, "shred", str(vault_path), "notes", "--yes")
    assert code == 0
    assert "30 records deleted" in out
    assert "rotate --master" in out  # what to do about old backups, without a docs/ folder
    assert not RELATIVE_DOCS.search(out)
    code, _, err = run(capsys, "shred", str(vault_path), "notes", "--yes")
    assert code == 1
    code, _, _ = run(capsys, "shred", str(vault_path), "other", "--all", "--yes")
    assert code == 2
    code, out, _ = run(capsys, "shred", str(vault_path), "--all", "--yes")
    assert code == 0
    assert "'other'" in out
    with Vault.open(vault_path, key=EnvKeyProvider()) as vault:
        assert vault.collections() == []
    devnull.close()


def test_export_import(capsys, tmp_path: Path, vault_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "b.vvb"
    code, out, _ = run(capsys, "export", str(vault_path), str(bundle))
    assert code == 0
    assert "exported 31 records in 2 collections" in out
    code, out, _ = run(capsys, "import", str(bundle), str(tmp_path / "same.db"))
    assert code == 0
    assert "imported 31 records" in out
    # Into a vault under a new key file, the bundle opened with the old (env) key.
    new_key = tmp_path / "new.key"
    KeyFileProvider(new_key).create_key()
    code, _, err = run(capsys, "import", str(bundle), str(tmp_path / "new.db"), "--key-file", str(new_key))
    assert code == 1
    assert "does not open the bundle" in err
    assert not (tmp_path / "new.db").exists()
    code, _, _ = run(
        capsys,
        "import",
        str(bundle),
        str(tmp_path / "new.db"),
        "--key-file",
        str(new_key),
        "--bundle-key-env",
        "VECVAULT_KEY",
    )
    assert code == 0
    with Vault.open(tmp_path / "new.db", key=KeyFileProvider(new_key)) as vault:
        assert {c.name: c.count for c in vault.collection_info()} == {"notes": 30, "other": 1}
    # A tampered bundle: exit 1, nothing imported.
    data = bytearray(bundle.read_bytes())
    data[-20] ^= 1
    bad = tmp_path / "bad.vvb"
    bad.write_bytes(bytes(data))
    code, _, err = run(capsys, "import", str(bad), str(tmp_path / "bad.db"))
    assert code == 1
    assert "authentication" in err
    assert not (tmp_path / "bad.db").exists()
    # Under a bundle passphrase.
    monkeypatch.setenv("VECVAULT_BUNDLE_PASSPHRASE", "bundle passphrase")
    code, _, _ = run(capsys, "export", str(vault_path), str(tmp_path / "p.vvb"), "--bundle-passphrase")
    assert code == 0
    code, _, _ = run(capsys, "import", str(tmp_path / "p.vvb"), str(tmp_path / "p.db"), "--bundle-passphrase")
    assert code == 0


def test_demo_without_the_demo_module(capsys) -> None:
    import importlib.util

    if importlib.util.find_spec("vecvault.demo") is not None:
        pytest.skip("vecvault.demo is installed; its own tests cover it")
    code, _, err = run(capsys, "demo")
    assert code == 1
    assert "vecvault[examples]" in err


def _python(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vecvault", *argv], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_python_dash_m_entry_point(tmp_path: Path, key_env: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "core"), VECVAULT_KEY=key_env)
    path = str(tmp_path / "s.db")
    result = _python("init", path, env=env)
    assert result.returncode == 0, result.stderr
    result = _python("info", path, env=env)
    assert result.returncode == 0
    assert "data keys (1)" in result.stdout
    result = _python("rotate", path, env=env)
    assert result.returncode == 2
    assert "usage: vecvault rotate" in result.stderr
    result = _python("info", path, "--key-env", "NOT_SET_ANYWHERE", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("vecvault: error:")


class _MemoryKeyring(keyring.backend.KeyringBackend):
    """A complete in-memory keyring backend (the protocol every OS backend implements)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[_MemoryKeyring]:
    monkeypatch.delenv("VECVAULT_KEY", raising=False)
    previous = keyring.get_keyring()
    backend = _MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_rotate_master_in_the_keychain_and_resume(capsys, tmp_path: Path, memory_keyring: _MemoryKeyring) -> None:
    path = tmp_path / "k.db"
    code, _, _ = run(capsys, "init", "--keyring", "vecvault/k", str(path))
    assert code == 0
    first = memory_keyring.entries[("vecvault", "k")]
    code, out, _ = run(capsys, "rotate", "--master", "--keyring", "vecvault/k", str(path))
    assert code == 0
    assert "re-wrapped" in out
    second = memory_keyring.entries[("vecvault", "k")]
    assert second != first
    backups = {a for s_, a in memory_keyring.entries if a.startswith("k.previous-")}
    assert len(backups) == 1  # the old key is kept until the user deletes it
    (backup,) = backups
    assert memory_keyring.entries[("vecvault", backup)] == first
    assert f"vecvault/{backup}" in out
    assert set(memory_keyring.entries) == {("vecvault", "k"), ("vecvault", "k.vaults"), ("vecvault", backup)}
    # A crash after the vault moved to a staged key but before the main entry was updated: a re-run
    # finds the staged key and finishes.
    staged = KeyringKeyProvider("vecvault", "k.rotating")
    staged.create_key()
    lifecycle.rotate_master_key(path, KeyringKeyProvider("vecvault", "k"), staged, move_registration=False)
    code, _, err = run(capsys, "info", "--keyring", "vecvault/k", str(path))
    assert code == 1
    assert "does not open" in err or "could not be decrypted" in err
    code, out, _ = run(capsys, "rotate", "--master", "--keyring", "vecvault/k", str(path))
    assert code == 0
    assert "resuming" in out
    assert "already rotated" in out
    assert ("vecvault", "k.rotating") not in memory_keyring.entries
    assert second in {v for (_, a), v in memory_keyring.entries.items() if a.startswith("k.previous-")}
    code, out, _ = run(capsys, "verify", "--keyring", "vecvault/k", str(path))
    assert code == 0


def test_rotating_a_shared_keychain_entry_in_place_is_refused(
    capsys, tmp_path: Path, memory_keyring: _MemoryKeyring
) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    assert run(capsys, "init", str(a))[0] == 0  # both on the default entry vecvault/default
    assert run(capsys, "init", str(b))[0] == 0
    shared = memory_keyring.entries[("vecvault", "default")]
    code, _, err = run(capsys, "rotate", "--master", str(a))
    assert code == 1
    assert "--new-keyring" in err
    assert "1 other vault uses it" in err
    assert memory_keyring.entries[("vecvault", "default")] == shared  # nothing changed
    assert run(capsys, "verify", str(b))[0] == 0
    # Moving a to an entry of its own leaves b and the shared entry alone.
    code, _, _ = run(capsys, "rotate", "--master", str(a), "--new-keyring", "vecvault/a")
    assert code == 0
    assert memory_keyring.entries[("vecvault", "default")] == shared
    assert run(capsys, "verify", str(b))[0] == 0
    assert run(capsys, "verify", "--keyring", "vecvault/a", str(a))[0] == 0
    with Vault.open(a, key=KeyringKeyProvider("vecvault", "a"), create=False) as vault:
        a_id = vault.vault_id
    with Vault.open(b, key=KeyringKeyProvider(), create=False) as vault:
        b_id = vault.vault_id
    assert KeyringKeyProvider("vecvault", "a").registered_vaults() == {a_id}
    assert KeyringKeyProvider().registered_vaults() == {b_id}
    # Now each entry belongs to one vault: both rotate in place.
    assert run(capsys, "rotate", "--master", "--keyring", "vecvault/a", str(a))[0] == 0
    assert run(capsys, "rotate", "--master", str(b))[0] == 0
    assert run(capsys, "verify", "--keyring", "vecvault/a", str(a))[0] == 0
    assert run(capsys, "verify", str(b))[0] == 0


def test_an_entry_from_before_the_vault_list_is_not_rotated_in_place(
    capsys, tmp_path: Path, memory_keyring: _MemoryKeyring
) -> None:
    path = tmp_path / "old.db"
    assert run(capsys, "init", "--keyring", "vecvault/legacy", str(path))[0] == 0
    del memory_keyring.entries[("vecvault", "legacy.vaults")]  # as an earlier vecvault left it
    before = dict(memory_keyring.entries)
    code, _, err = run(capsys, "rotate", "--master", "--keyring", "vecvault/legacy", str(path))
    assert code == 1
    assert "other vaults may use it" in err
    assert "--new-keyring" in err
    assert memory_keyring.entries == before
    assert run(capsys, "verify", "--keyring", "vecvault/legacy", str(path))[0] == 0


def test_info_and_exposure_report_a_stored_snapshot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, key_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vecvault.search import snapshot

    monkeypatch.setattr(snapshot, "SNAPSHOT_MIN", 16)
    path = tmp_path / "s.db"
    with Vault.open(path, key=EnvKeyProvider()) as vault:
        col = vault.collection("notes", dim=4)
        col.add(vectors=np.random.default_rng(0).random((40, 4)))
        assert col.compact()
        rev = vault.core.storage.revision("notes")[0]
        assert any("sealed snapshot of the vectors is stored" in line for line in vault.exposure())
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0 and f"sealed snapshot: 0.0 MiB, as of revision {rev}" in out
    code, js, _ = run(capsys, "info", "--json", str(path))
    (notes,) = json.loads(js)["collections"]
    assert notes["snapshot_rev"] == rev and notes["snapshot_bytes"] > 40 * 16
