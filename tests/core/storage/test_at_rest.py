"""Nothing readable at rest: scan every file a vault leaves behind, after add, close, crash and delete.

Canaries go into text and metadata and a known float pattern into a vector; the scan looks for them in
UTF-8, UTF-16, hex, base64 and packed-float forms in the database, its -wal/-shm/-journal files and every
other file in the directory. Runs with libSQL file encryption on and off: the sealed fields alone must
keep the promise.
"""

from __future__ import annotations

import base64
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import libsql
import numpy as np
import pytest

from vecvault import Vault

CANARY_TEXT = "zebra-canary-text-7f3a91"
CANARY_META = "okapi-canary-meta-b2c4d8"
CANARY_VECTOR = [0.123456789, -0.987654321, 0.31415926, 0.27182818, -0.5772156, 0.69314718, 0.1618034, -0.4142135]
ROOT = Path(__file__).resolve().parents[3]


def _forms(text: str) -> list[bytes]:
    raw = text.encode()
    forms = [raw, text.encode("utf-16-le"), text.encode("utf-16-be"), raw.hex().encode(), raw.hex().upper().encode()]
    for prefix in (b"", b"x", b"xy"):  # every base64 alignment, edges trimmed
        encoded = base64.b64encode(prefix + raw)[len(prefix) * 2 : -4]
        forms.append(encoded)
        forms.append(base64.urlsafe_b64encode(prefix + raw)[len(prefix) * 2 : -4])
    return forms


def _vector_forms() -> list[bytes]:
    v = CANARY_VECTOR
    forms = [struct.pack(f"<{len(v)}f", *v), struct.pack(f">{len(v)}f", *v), struct.pack(f"<{len(v)}d", *v)]
    forms.append(struct.pack("<4f", *v[2:6]))  # any four consecutive floats
    forms.append(np.asarray(v, dtype="<f4").tobytes().hex().encode())
    forms.append(",".join(f"{x:.6f}" for x in v[:3]).encode())
    return forms


def scan(directory: Path) -> list[str]:
    """Return a description of every canary found in any file below ``directory``."""
    needles = {f"text {i}": f for i, f in enumerate(_forms(CANARY_TEXT))}
    needles |= {f"meta {i}": f for i, f in enumerate(_forms(CANARY_META))}
    needles |= {f"meta-key {i}": f for i, f in enumerate(_forms("canary_key_name"))}
    needles |= {f"vector {i}": f for i, f in enumerate(_vector_forms())}
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found.extend(f"{name} in {path.name}" for name, needle in needles.items() if needle in data)
    return found


def _add_canaries(vault: Vault, n: int = 200) -> None:
    col = vault.collection("private", dim=8)
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    vectors[0] = CANARY_VECTOR
    col.add(
        texts=[f"{CANARY_TEXT} record {i}" for i in range(n)],
        vectors=vectors,
        metadatas=[{"canary_key_name": CANARY_META, "i": i} for i in range(n)],
        ids=[f"id-{i}" for i in range(n)],
    )


def _assert_canaries_detectable(tmp_path: Path) -> None:
    """The scanner itself must find canaries written in the clear (else the test proves nothing)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "plain.bin").write_bytes(
        CANARY_TEXT.encode("utf-16-le") + base64.b64encode(CANARY_META.encode()) + struct.pack("<8f", *CANARY_VECTOR)
    )
    found = scan(probe)
    assert any(f.startswith("text") for f in found)
    assert any(f.startswith("meta") for f in found)
    assert any(f.startswith("vector") for f in found)


@pytest.mark.parametrize("file_encryption", [None, False])
def test_no_plaintext_after_add_and_after_close(
    tmp_path: Path, master_key: bytes, file_encryption: bool | None
) -> None:
    _assert_canaries_detectable(tmp_path)
    directory = tmp_path / "vault"
    directory.mkdir()
    vault = Vault.open(directory / "v.db", key=master_key, file_encryption=file_encryption)
    try:
        _add_canaries(vault)
        vault.collection("private").search(CANARY_VECTOR, k=3)
        assert scan(directory) == []
    finally:
        vault.close()
    assert scan(directory) == []
    # And the data is really there.
    with Vault.open(directory / "v.db", key=master_key) as vault:
        hit = vault.collection("private").search(CANARY_VECTOR, k=1)[0]
        assert hit.id == "id-0" and CANARY_TEXT in hit.text and hit.metadata["canary_key_name"] == CANARY_META


_CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    sys.path[:0] = [{core!r}]
    from vecvault import Vault
    path, key_hex, crash_at, enc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    seen = []
    def tracer(sql):
        if sql.startswith(("INSERT OR REPLACE INTO vv_records", "DELETE FROM vv_deletions", "UPDATE vv_keys",
                           "UPDATE vv_collections", "COMMIT")):
            seen.append(sql)
            if len(seen) == crash_at:
                os._exit(17)
    vault = Vault.open(path, key=bytes.fromhex(key_hex), file_encryption=None if enc == "on" else False)
    col = vault.collection("private", dim=8)
    col.add(texts=["committed"], vectors=[[1.0] * 8], ids=["first"])
    vault.core.storage.tracer = tracer
    n = 500
    vectors = np.tile(np.asarray({vector!r}, dtype=np.float32), (n, 1))
    col.add(texts=[{text!r} + str(i) for i in range(n)], vectors=vectors,
            metadatas=[{{"canary_key_name": {meta!r}}}] * n, ids=["b" + str(i) for i in range(n)])
    os._exit(0)
    """
)


@pytest.mark.multiprocess
@pytest.mark.parametrize("file_encryption", ["on", "off"])
@pytest.mark.parametrize("crash_at", [1, 2, 3, 4, 99])
def test_crash_mid_batch_keeps_all_or_none_and_leaves_no_plaintext(
    tmp_path: Path, master_key: bytes, crash_at: int, file_encryption: str
) -> None:
    directory = tmp_path / "vault"
    directory.mkdir()
    path = directory / "v.db"
    script = _CRASH_SCRIPT.format(core=str(ROOT / "core"), vector=CANARY_VECTOR, text=CANARY_TEXT, meta=CANARY_META)
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path), master_key.hex(), str(crash_at), file_encryption],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 17), proc.stderr
    assert scan(directory) == [], "plaintext in the files the crashed process left"
    with Vault.open(path, key=master_key) as vault:
        col = vault.collection("private")
        count = col.count()
        assert count in (1, 501), f"a crash left a partial batch: {count} records"
        if proc.returncode == 0:
            assert count == 501
        assert col.get(["first"])[0].text == "committed"
        assert len(col.search(CANARY_VECTOR, k=600)) == count
    assert scan(directory) == []


def test_deleted_ciphertext_is_gone_from_the_files(tmp_path: Path, master_key: bytes) -> None:
    directory = tmp_path / "vault"
    directory.mkdir()
    path = directory / "v.db"
    vault = Vault.open(path, key=master_key, file_encryption=False)
    try:
        _add_canaries(vault, n=50)
        blobs = _sealed_fields(path, ["id-1", "id-2"])
        assert len(blobs) == 6
        data = b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())
        assert all(b[-24:] in data for b in blobs), "the scan must see live ciphertext first"
        col = vault.collection("private")
        assert col.delete(ids=["id-1", "id-2"]) == 2
        files = b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())
        leftovers = [b for b in blobs if b[-24:] in files or b[5:29] in files]
        assert leftovers == [], "deleted ciphertext is still in the vault files"
        assert col.count() == 48
    finally:
        vault.close()
    files = b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())
    assert not any(b[-24:] in files for b in blobs)


def _sealed_fields(path: Path, ids: list[str]) -> list[bytes]:
    """The stored sealed blobs of some records, read through a libSQL connection of this process.

    libSQL, not the stdlib sqlite3 module: two SQLite libraries in one process do not see each other's
    POSIX locks, so closing a sqlite3 connection could checkpoint or delete the WAL under the vault.
    """
    conn = libsql.connect(str(path), isolation_level=None)
    try:
        sql = "SELECT CAST(text AS BLOB), CAST(metadata AS BLOB), CAST(vector AS BLOB) FROM vv_records WHERE id = ?"
        rows = [row for record_id in ids for row in conn.execute(sql, (record_id,)).fetchall()]
    finally:
        conn.close()
    return [bytes(b) for row in rows for b in row]


def _leftovers(directory: Path, blobs: list[bytes]) -> list[bytes]:
    files = b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())
    return [b for b in blobs if b[-24:] in files or b[5:29] in files]


_SNAPSHOT_READER = textwrap.dedent(
    """
    import sys
    import libsql
    conn = libsql.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN")
    print(conn.execute("SELECT count(*) FROM vv_records").fetchall()[0][0], flush=True)
    sys.stdin.readline()  # hold the read snapshot until the test says so
    conn.execute("COMMIT")
    print("released", flush=True)
    sys.stdin.readline()  # stay connected (a last connection's close would checkpoint by itself)
    """
)


class _SnapshotReader:
    """Another connection holding a read snapshot: in this process, or in another one."""

    def __init__(self, path: Path, where: str) -> None:
        self.where = where
        if where == "process":
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _SNAPSHOT_READER, str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self.proc.stdout is not None
            self.seen = int(self.proc.stdout.readline())
        else:
            self.conn = libsql.connect(str(path), isolation_level=None)
            self.conn.execute("BEGIN")
            self.seen = int(self.conn.execute("SELECT count(*) FROM vv_records").fetchall()[0][0])

    def count_now(self) -> int | None:
        """What the reader sees while it still holds its snapshot (None for another process)."""
        if self.where == "process":
            return None
        return int(self.conn.execute("SELECT count(*) FROM vv_records").fetchall()[0][0])

    def release(self) -> None:
        if self.where == "process":
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline().strip() == "released"
        else:
            self.conn.execute("COMMIT")

    def disconnect(self) -> None:
        """End the reader's connection (at teardown: the reader must not outlive the test)."""
        if self.where == "process":
            if self.proc.poll() is None:
                self.proc.communicate(input="\n\n", timeout=60)
        else:
            self.conn.close()


@pytest.mark.parametrize("where", ["connection", pytest.param("process", marks=pytest.mark.multiprocess)])
@pytest.mark.parametrize("then", ["add", "delete", "close"])
def test_deleted_ciphertext_leaves_the_files_once_a_concurrent_reader_finishes(
    request: pytest.FixtureRequest, tmp_path: Path, master_key: bytes, where: str, then: str
) -> None:
    # Issue 7: a read snapshot held by another connection pins the deleted record's pages, and the
    # checkpoint after the delete reports busy. The ciphertext must leave the files as soon as the reader
    # is done and this process writes again (or deletes again, or closes), and the delete must not wait
    # out the busy timeout on the reader.
    directory = tmp_path / "vault"
    directory.mkdir()
    path = directory / "v.db"
    vault = Vault.open(path, key=master_key, file_encryption=False)
    try:
        _add_canaries(vault, n=50)
        doomed = _sealed_fields(path, ["id-1", "id-2"])
        assert len(doomed) == 6 and _leftovers(directory, doomed) == doomed, "the scan must see live ciphertext"
        col = vault.collection("private")
        reader = _SnapshotReader(path, where)
        request.addfinalizer(reader.disconnect)
        assert reader.seen == 50
        started = time.perf_counter()
        assert col.delete(ids=["id-1", "id-2"]) == 2
        assert time.perf_counter() - started < 0.5, "the delete waited on the reader's lock"
        assert col.count() == 48
        assert reader.count_now() in (None, 50)  # the reader's snapshot still needs the old pages
        reader.release()  # done reading, still connected
        if then == "add":
            col.add(texts=["later"], vectors=[[0.5] * 8], ids=["later"])
        elif then == "delete":
            assert col.delete(ids=["id-3"]) == 1
        else:
            vault.close()
        assert _leftovers(directory, doomed) == [], f"deleted ciphertext is still in the files after the {then}"
    finally:
        vault.close()
    assert _leftovers(directory, doomed) == []
    with Vault.open(path, key=master_key) as reopened:
        assert reopened.collection("private").get(["id-1", "id-2"]) == []
