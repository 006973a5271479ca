"""Crash safety of the file layer: `rotate --file` (on and off), `rotate --master` and `import` killed by SIGKILL.

Each case runs the real command in a child process on a real ~20k-record vault, kills it at a chosen
moment (the journal just created, a fraction of it written, page 1 of the file rewritten, or a random
time), then reruns the same command, which must finish; every record must open and `verify` be ok.
A kill point counts only when the child really died before finishing.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from vecvault import Vault
from vecvault.cli import main
from vecvault.errors import WrongKeyError
from vecvault.keys import KeyFileProvider, StaticKeyProvider
from vecvault.keys._codec import encode_key

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
N = 20_000
DIM = 384
# Journal fractions at which the child is killed; 1.0 waits for page 1 of the file to change as well.
JOURNAL_POINTS = (0.0, 0.05, 0.3, 0.6, 0.9, 1.0)
RANDOM_KILLS = 4
KILL_LOG: dict[str, int] = {}


def _write_key(path: Path, key: bytes) -> Path:
    path.write_text(encode_key(key) + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Two ~45 MB vaults under one master key (file encryption on and off) and a bundle of the same records."""
    folder = tmp_path_factory.mktemp("rekey-corpus")
    master = os.urandom(32)
    key_file = _write_key(folder / "old.key", master)
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    texts = [f"note {i} " + "x" * (i % 50) for i in range(N)]
    ids = [f"r{i}" for i in range(N)]
    paths = {}
    for name, encrypted in (("encrypted", True), ("plain", False)):
        path = folder / f"{name}.db"
        with Vault.open(path, key=master, file_encryption=encrypted) as vault:
            vault.collection("notes", dim=DIM).add(texts=texts, vectors=vectors, ids=ids)
        paths[name] = path
    bundle = folder / "all.vvbundle"
    assert main(["export", str(paths["encrypted"]), str(bundle), "--key-file", str(key_file)]) == 0
    texts_by_id = dict(zip(ids, texts, strict=True))
    yield {"master": master, "key_file": key_file, "paths": paths, "bundle": bundle, "texts": texts_by_id}
    print("kill points that interrupted the command:", KILL_LOG)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "core"), str(ROOT / "integrations"), env.get("PYTHONPATH", "")])
    env.pop("VECVAULT_KEY", None)
    return env


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vecvault", *args],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(8)
    except OSError:
        return b""


def _kill_at_journal(proc: subprocess.Popen[str], db: Path, fraction: float, deadline: float = 60.0) -> bool:
    """SIGKILL the child once the journal holds ``fraction`` of the file (1.0: and page 1 was rewritten).

    Returns:
        True if the child was killed before it finished.
    """
    journal = Path(str(db) + "-journal")
    size = db.stat().st_size
    first = _head(db)
    stop = time.monotonic() + deadline
    while proc.poll() is None and time.monotonic() < stop:
        try:
            written = journal.stat().st_size
        except OSError:
            time.sleep(0.0005)
            continue
        if written >= fraction * size and (fraction < 1.0 or _head(db) != first):
            break
    return _kill(proc)


def _kill_after(proc: subprocess.Popen[str], seconds: float) -> bool:
    time.sleep(seconds)
    return _kill(proc)


def _kill(proc: subprocess.Popen[str]) -> bool:
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    return killed and proc.returncode == -signal.SIGKILL


def _check_vault(path: Path, key: bytes, texts: dict[str, str]) -> None:
    with Vault.open(path, key=key, create=False) as vault:
        assert vault.verify().ok
        col = vault.collection("notes")
        assert col.count() == N
        sample = [f"r{i}" for i in range(0, N, 997)]
        assert {r.id: r.text for r in col.get(sample, include_vectors=False)} == {i: texts[i] for i in sample}
    assert not Path(str(path) + "-journal").exists()


def _kill_points(start: Callable[[], subprocess.Popen[str]], db: Path) -> Iterator[str]:
    """Yield a label for each kill that interrupted the command (the caller then recovers and checks)."""
    for fraction in JOURNAL_POINTS:
        if _kill_at_journal(start(), db, fraction):
            yield f"journal>={fraction:.0%}"
        else:
            yield ""
    rnd = random.Random(2026)
    for _ in range(RANDOM_KILLS):
        yield "random" if _kill_after(start(), rnd.uniform(0.2, 0.8)) else ""


@pytest.mark.parametrize("direction", ["on", "off"])
def test_a_killed_rotate_file_is_finished_by_rerunning_it(
    tmp_path: Path, corpus: dict[str, object], direction: str
) -> None:
    source = corpus["paths"]["plain" if direction == "on" else "encrypted"]  # type: ignore[index]
    master: bytes = corpus["master"]  # type: ignore[assignment]
    key_file = str(corpus["key_file"])
    texts: dict[str, str] = corpus["texts"]  # type: ignore[assignment]
    db = tmp_path / "v.db"
    args = ["rotate", "--file", str(db), "--key-file", key_file, *(["--off"] if direction == "off" else [])]

    def start() -> subprocess.Popen[str]:
        shutil.copyfile(source, db)  # every kill point starts from the original state
        return _spawn(args)

    interrupted = 0
    for label in _kill_points(start, db):
        interrupted += bool(label)
        assert main(args) == 0  # the same command, rerun, finishes
        _check_vault(db, master, texts)
        assert (_head(db) == b"SQLite f") == (direction == "off")
    KILL_LOG[f"rotate --file {direction}"] = interrupted
    assert interrupted >= len(JOURNAL_POINTS)


def test_a_killed_rotate_master_is_finished_by_rerunning_it(tmp_path: Path, corpus: dict[str, object]) -> None:
    source: Path = corpus["paths"]["encrypted"]  # type: ignore[index]
    master: bytes = corpus["master"]  # type: ignore[assignment]
    texts: dict[str, str] = corpus["texts"]  # type: ignore[assignment]
    db = tmp_path / "v.db"
    interrupted = 0
    opened_by_itself = 0
    new_file = tmp_path / "new.key"
    old_file = _write_key(tmp_path / "old.key", master)
    args = ["rotate", "--master", str(db), "--key-file", str(old_file), "--new-key-file", str(new_file)]

    def start() -> subprocess.Popen[str]:
        # Every kill point: the same rotation from the original file, to a new target key.
        shutil.copyfile(source, db)
        new_file.unlink(missing_ok=True)
        return _spawn(args)

    for label in _kill_points(start, db):
        interrupted += bool(label)
        if label and interrupted % 2:
            # An application that holds one of the two keys opens the vault without the CLI: the journal
            # is played back under the key that wrote it, or refused untouched under the other. (A child
            # killed before it created the new key file changed nothing: the old key opens the vault.)
            try:
                _check_vault(db, master, texts)
            except WrongKeyError:
                _check_vault(db, KeyFileProvider(new_file).load_key(), texts)
            opened_by_itself += 1
        assert main(args) == 0
        _check_vault(db, KeyFileProvider(new_file).load_key(), texts)
        with pytest.raises(WrongKeyError):
            Vault.open(db, key=master, create=False)
    KILL_LOG["rotate --master"] = interrupted
    assert interrupted >= len(JOURNAL_POINTS)
    assert opened_by_itself >= 2


def test_a_killed_import_is_finished_by_rerunning_it(tmp_path: Path, corpus: dict[str, object]) -> None:
    master: bytes = corpus["master"]  # type: ignore[assignment]
    texts: dict[str, str] = corpus["texts"]  # type: ignore[assignment]
    key_file = str(corpus["key_file"])
    target = tmp_path / "restored.db"
    args = ["import", str(corpus["bundle"]), str(target), "--key-file", key_file]
    rnd = random.Random(7)
    interrupted = 0
    for attempt in range(8):
        delay = 0.3 + attempt * 0.15 + rnd.uniform(0.0, 0.2)
        if _kill_after(_spawn(args), delay):
            interrupted += 1
            if target.exists():  # killed after publishing: it is complete already
                _check_vault(target, master, texts)
            assert main(args) == 0  # the same command, rerun, finishes
        _check_vault(target, master, texts)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["restored.db"]  # no staging file left behind
        target.unlink()
    KILL_LOG["import"] = interrupted
    assert interrupted >= 3


def test_a_hot_journal_under_another_key_is_never_played_back(tmp_path: Path, corpus: dict[str, object]) -> None:
    db = tmp_path / "v.db"
    shutil.copyfile(corpus["paths"]["encrypted"], db)  # type: ignore[index]
    master: bytes = corpus["master"]  # type: ignore[assignment]
    key_file = str(corpus["key_file"])
    args = ["rotate", "--file", "--off", str(db), "--key-file", key_file]
    assert _kill_at_journal(_spawn(args), db, 1.0)
    journal = Path(str(db) + "-journal")
    before = (db.read_bytes(), journal.read_bytes())
    with pytest.raises(WrongKeyError, match="rerun the interrupted command"):
        Vault.open(db, key=StaticKeyProvider(os.urandom(32)), create=False)
    other = _write_key(tmp_path / "other.key", os.urandom(32))
    assert main(["rotate", "--file", "--off", str(db), "--key-file", str(other)]) == 1
    assert (db.read_bytes(), journal.read_bytes()) == before  # untouched by both
    _check_vault(db, master, corpus["texts"])  # type: ignore[arg-type]


def test_a_plain_copy_of_page_one_needs_no_key(tmp_path: Path, corpus: dict[str, object]) -> None:
    db = tmp_path / "v.db"
    shutil.copyfile(corpus["paths"]["plain"], db)  # type: ignore[index]
    args = ["rotate", "--file", str(db), "--key-file", str(corpus["key_file"])]
    assert _kill_at_journal(_spawn(args), db, 1.0)
    assert _head(db) != b"SQLite f"  # page 1 already rewritten under the new key
    # Opening with the vault's master plays the (plain) journal back: the file is plain again.
    master: bytes = corpus["master"]  # type: ignore[assignment]
    with Vault.open(db, key=master, create=False) as vault:
        assert not vault.file_encrypted
        assert vault.collection("notes").count() == N
