"""A vault this process cannot write (issue 12): a read-only file system, file or directory.

The vault opens read-only: counts, get, search, ``verify``, ``info`` and ``export`` work, and a write is a
``StorageError`` that says the vault is read-only and what to do; never ``WrongKeyError`` (the right key on
an encrypted file) or ``NotAVaultError``.

The tests run as root here, where chmod stops no write. So the file-system case mounts a tmpfs and remounts
it read-only, and the chmod cases run in a subprocess without the DAC-override capabilities (``setpriv``);
as another user they run the same subprocess as is. Each case first checks that the vault really cannot be
written, and skips with the reason where no such setup is possible.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vecvault import StorageError, Vault
from vecvault.cli import main

ROOT = Path(__file__).resolve().parents[3]
DIM = 4
IDS = [f"r{i}" for i in range(6)]
VECTORS = np.eye(DIM, dtype=np.float32)[np.arange(len(IDS)) % DIM] + np.arange(len(IDS))[:, None] * 0.01

# A writer killed after committing: its -wal holds records that are not in the database file yet.
_CRASHED_WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    sys.path[:0] = [sys.argv[1]]
    from vecvault import Vault
    encryption = None if sys.argv[4] == "on" else False
    vault = Vault.open(sys.argv[2], key=bytes.fromhex(sys.argv[3]), file_encryption=encryption)
    vault.collection("notes").add(texts=["only in the WAL"], vectors=[[0.5] * {dim}], ids=["late"])
    os._exit(0)
    """
).replace("{dim}", str(DIM))


def _make_vault(directory: Path, key: bytes, encryption: str, state: str) -> int:
    """Build a vault in ``directory``; return how many records it holds."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "v.db"
    with Vault.open(path, key=key, file_encryption=None if encryption == "on" else False) as vault:
        vault.collection("notes", dim=DIM).add(
            texts=[f"text of {i}" for i in IDS], vectors=VECTORS, metadatas=[{"n": i} for i in range(6)], ids=IDS
        )
    if state == "closed":
        assert not (directory / "v.db-wal").exists()
        return len(IDS)
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHED_WRITER, str(ROOT / "core"), str(path), key.hex(), encryption],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (directory / "v.db-wal").stat().st_size > 0 and (directory / "v.db-shm").exists()
    return len(IDS) + 1


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_read_only_error(exc: BaseException) -> None:
    message = str(exc)
    assert "read-only" in message, message
    assert "writable" in message and "copy" in message, message


@pytest.mark.multiprocess
@pytest.mark.parametrize("state", ["closed", "crashed"])
@pytest.mark.parametrize("encryption", ["on", "off"])
def test_a_vault_on_a_read_only_file_system_opens_for_reading(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    master_key: bytes,
    read_only_mount: Callable[[Path], Path],
    encryption: str,
    state: str,
) -> None:
    count = _make_vault(tmp_path / "source", master_key, encryption, state)
    path = read_only_mount(tmp_path / "source") / "v.db"
    with Vault.open(path, key=master_key) as vault:
        assert vault.read_only
        assert vault.file_encrypted is (encryption == "on")
        col = vault.collection("notes")
        assert col.count() == count  # a crashed writer's -wal is read too
        assert [r.text for r in col.get(["r0", "r5"])] == ["text of r0", "text of r5"]
        assert col.search(VECTORS[1], k=1)[0].id == "r1"
        assert [r.id for r in col.get(filter={"n": 2})] == ["r2"]
        assert vault.verify().ok
        for write in (
            lambda: col.add(texts=["x"], vectors=[[1.0] * DIM], ids=["x"]),
            lambda: col.delete(ids=["r0"]),
            lambda: vault.collection("new", dim=DIM),
        ):
            with pytest.raises(StorageError) as raised:
                write()
            _assert_read_only_error(raised.value)
        assert col.count() == count
    monkeypatch.setenv("VECVAULT_KEY", base64.b64encode(master_key).decode())
    code, out, err = _cli(capsys, "info", str(path))
    assert (code, err) == (0, "") and "notes" in out
    code, out, err = _cli(capsys, "verify", str(path))
    assert (code, err) == (0, "") and f"verified {count} records" in out
    bundle = tmp_path / "backup.vvb"
    code, out, err = _cli(capsys, "export", str(path), str(bundle))
    assert (code, err) == (0, ""), err
    code, out, err = _cli(capsys, "import", str(bundle), str(tmp_path / "restored.db"))
    assert code == 0, err
    with Vault.open(tmp_path / "restored.db", key=master_key) as restored:
        assert restored.collection("notes").count() == count


def test_no_vault_can_be_created_on_a_read_only_file_system(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    master_key: bytes,
    read_only_mount: Callable[[Path], Path],
) -> None:
    _make_vault(tmp_path / "source", master_key, "on", "closed")
    directory = read_only_mount(tmp_path / "source")
    with pytest.raises(StorageError, match="read-only") as raised:
        Vault.open(directory / "new.db", key=master_key)
    assert "none can be created there" in str(raised.value) and "writable" in str(raised.value)
    assert not (directory / "new.db").exists()
    monkeypatch.setenv("VECVAULT_KEY", base64.b64encode(master_key).decode())
    code, out, err = _cli(capsys, "init", str(directory / "new.db"))
    assert code == 1 and out == "" and err.count("\n") == 1 and "read-only" in err


# -- chmod, as a process that permissions apply to ------------------------------------------------------

_READER = textwrap.dedent(
    """
    import json, os, sys
    sys.path[:0] = [sys.argv[1]]
    from vecvault import StorageError, Vault
    path, key = sys.argv[2], bytes.fromhex(sys.argv[3])
    out = {}
    try:  # the precondition: this process really cannot write the file, or create files beside it
        with open(path, "r+b"):
            out["file_writable"] = True
    except PermissionError:
        out["file_writable"] = False
    try:
        with open(os.path.join(os.path.dirname(path), "probe"), "xb"):
            out["directory_writable"] = True
    except PermissionError:
        out["directory_writable"] = False
    try:
        with Vault.open(path, key=key) as vault:
            col = vault.collection("notes")
            out["read_only"] = vault.read_only
            out["count"] = col.count()
            out["text"] = col.get(["r3"])[0].text
            out["hit"] = col.search([0.0, 0.0, 1.0, 0.0], k=1)[0].id
            out["verified"] = vault.verify().ok
            try:
                col.add(texts=["x"], vectors=[[1.0] * 4], ids=["x"])
                out["write"] = "written"
            except StorageError as exc:
                out["write"] = str(exc)
    except Exception as exc:
        out["open"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out))
    """
)


def _as_a_user_permissions_apply_to() -> list[str]:
    if os.name != "posix":
        pytest.skip("POSIX permissions only")
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and setpriv(1) is missing to drop CAP_DAC_OVERRIDE (chmod binds no root)")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


@pytest.mark.multiprocess
@pytest.mark.parametrize("encryption", ["on", "off"])
@pytest.mark.parametrize(
    ("file_mode", "directory_mode"),
    [
        pytest.param(0o444, 0o555, id="file-and-directory"),
        pytest.param(0o444, 0o755, id="file"),
        pytest.param(0o644, 0o555, id="directory"),
    ],
)
def test_a_read_only_file_or_directory_opens_for_reading_and_says_so_on_write(
    tmp_path: Path, master_key: bytes, encryption: str, file_mode: int, directory_mode: int
) -> None:
    prefix = _as_a_user_permissions_apply_to()
    directory = tmp_path / "vault"
    _make_vault(directory, master_key, encryption, "closed")
    path = directory / "v.db"
    path.chmod(file_mode)
    directory.chmod(directory_mode)
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-c", _READER, str(ROOT / "core"), str(path), master_key.hex()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        directory.chmod(0o755)
        path.chmod(0o644)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    if seen["file_writable"] != bool(file_mode & 0o200) or seen["directory_writable"] != bool(directory_mode & 0o200):
        pytest.skip(f"the permissions did not bind the reader process ({seen}); cannot reproduce here")
    assert "open" not in seen, seen["open"]
    assert seen["read_only"] is True
    assert (seen["count"], seen["text"], seen["hit"], seen["verified"]) == (len(IDS), "text of r3", "r2", True)
    assert "read-only" in seen["write"] and "writable" in seen["write"] and "copy" in seen["write"], seen["write"]
    with Vault.open(path, key=master_key) as vault:  # nothing was written
        assert vault.collection("notes").count() == len(IDS)
