"""The sealed mirror snapshot: an open reads it plus its delta, and never trusts one that does not fit.

Chunks are made small here (1 KiB) and the size threshold low, so a few hundred 8-d records give dozens of
chunks: the two-connection read, head chunks and vector chunks are all exercised on tiny vaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from vecvault import IntegrityError, Vault
from vecvault.search import snapshot as snapshot_module

DIM = 8
N = 600


@pytest.fixture(autouse=True)
def small_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_module, "CHUNK_BYTES", 1024)
    monkeypatch.setattr(snapshot_module, "SNAPSHOT_MIN", 16)


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def _fill(path: Path, key: bytes, vectors: np.ndarray, name: str = "c", **options: Any) -> None:
    with Vault.open(path, key=key) as vault:
        col = vault.collection(name, dim=DIM, **options)
        col.add(
            vectors=vectors,
            ids=[f"r{i}" for i in range(len(vectors))],
            texts=[f"text {i}" for i in range(len(vectors))],
            metadatas=[{"i": i} for i in range(len(vectors))],
        )
        col.search(vectors[0], k=1)  # a load from the records: stores the snapshot


def _model_top(model: dict[str, np.ndarray], query: np.ndarray, k: int) -> list[str]:
    ids = sorted(model)
    matrix = np.array([model[i] for i in ids], dtype=np.float64)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    scores = unit @ (query / np.linalg.norm(query))
    order = np.argsort(-scores, kind="stable")[:k]
    return [ids[i] for i in order]


def _loaded(vault: Vault, name: str = "c") -> tuple[bool, dict[str, np.ndarray]]:
    """Sync a fresh collection object; return whether the snapshot served and the mirror's vectors."""
    col = vault.collection(name)
    ids, vectors = col.vectors()
    return col._mirror.snapshots.loaded_from_snapshot, dict(zip(ids, vectors, strict=True))


def _unit(vectors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {i: (v / np.linalg.norm(v)).astype(np.float32) for i, v in vectors.items()}


def _same(got: dict[str, np.ndarray], model: dict[str, np.ndarray]) -> bool:
    expected = _unit(model)
    return got.keys() == expected.keys() and all(np.allclose(got[i], expected[i], atol=1e-6) for i in got)


def test_a_reopen_reads_the_snapshot_and_the_records_written_since(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    model = {f"r{i}": vectors[i] for i in range(N)}
    with Vault.open(path, key=key) as vault:
        assert vault.core.storage.snapshot_rev("c") is not None
        col = vault.collection("c")
        fresh = _vectors(40, seed=1)
        col.add(vectors=fresh, ids=[f"r{i}" for i in range(0, 400, 10)])  # upserts
        col.add(vectors=fresh[:5], ids=[f"n{i}" for i in range(5)])  # new records
        model.update({f"r{i}": fresh[j] for j, i in enumerate(range(0, 400, 10))})
        model.update({f"n{i}": fresh[i] for i in range(5)})
    with Vault.open(path, key=key) as vault:
        served, got = _loaded(vault)
        assert served, "the reopen read every record instead of the snapshot"
        assert _same(got, model)
        col = vault.collection("c")
        for q in _vectors(5, seed=2):
            assert [h.id for h in col.search(q, k=5)] == _model_top(model, q, 5)
        hit = col.search(fresh[10], k=1)[0]
        assert (hit.id, hit.text) == ("r100", "")  # the upsert's text is what is returned, not the snapshot's


def test_the_snapshot_holds_nothing_readable(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    with Vault.open(path, key=key) as vault:
        blobs = [bytes(r[0]) for r in vault.core.storage.query("SELECT blob FROM vv_snapshots")]
    assert len(blobs) > 20
    joined = b"".join(blobs)
    prepared = vectors[1] / np.linalg.norm(vectors[1])
    for needle in (vectors[1].tobytes()[:16], prepared.astype(np.float32).tobytes()[:16], b"r123", b"VVSNAP"):
        assert needle not in joined


def test_reading_on_two_connections_gives_the_same_index_as_one(
    tmp_path: Path, key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    with Vault.open(path, key=key) as vault:
        served, two = _loaded(vault)
    assert served
    monkeypatch.setattr(snapshot_module, "_PARALLEL_MIN_CHUNKS", 10**9)
    with Vault.open(path, key=key) as vault:
        served, one = _loaded(vault)
    assert served
    assert two.keys() == one.keys() and all(np.array_equal(two[i], one[i]) for i in one)


def test_a_delete_drops_the_snapshot_and_a_later_open_stores_it_again(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c")
        col.search(vectors[0], k=1)  # loaded from the snapshot
        col.delete(["r1", "r2"])
        assert vault.core.storage.snapshot_rev("c") is None  # nothing of a deleted record stays in the file
        col.search(vectors[0], k=1)
        assert vault.core.storage.snapshot_rev("c") is None  # not stored again after each delete
    with Vault.open(path, key=key) as vault:
        served, got = _loaded(vault)
        assert not served and "r1" not in got
        vault.collection("c").search(vectors[0], k=1)  # the load from the records stores a fresh one
        assert vault.core.storage.snapshot_rev("c") is not None
    with Vault.open(path, key=key) as vault:
        served, got = _loaded(vault)
        assert served and len(got) == N - 2 and "r1" not in got


def test_clear_and_drop_remove_the_snapshot(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    _fill(path, key, _vectors(N))
    _fill(path, key, _vectors(N), name="d")
    with Vault.open(path, key=key) as vault:
        vault.collection("c").clear()
        vault.drop_collection("d")
        assert vault.core.storage.query("SELECT count(*) FROM vv_snapshots")[0][0] == 0
        assert vault.collection("c").count() == 0


def test_compact_folds_the_delta_in(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c")
        col.add(vectors=_vectors(30, seed=5), ids=[f"x{i}" for i in range(30)])
        before = vault.core.storage.snapshot_rev("c")
        assert col.compact()
        assert vault.core.storage.snapshot_rev("c") == vault.core.storage.revision("c")[0] != before
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c")
        calls: list[int] = []
        real = vault.core.storage.records_with_rowids_since

        def counted(*args: Any, **kwargs: Any) -> Any:
            rows = real(*args, **kwargs)
            calls.append(len(rows))
            return rows

        vault.core.storage.records_with_rowids_since = counted  # type: ignore[method-assign]
        assert col.count() == N + 30 and col.search(vectors[3], k=1)[0].id == "r3"
        assert col._mirror.snapshots.loaded_from_snapshot and calls == [0]  # no delta left


def test_a_filtered_first_search_keeps_a_current_snapshot(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    _fill(path, key, _vectors(N))
    with Vault.open(path, key=key) as vault:
        stored = vault.core.storage.query("SELECT chunk, blob FROM vv_snapshots ORDER BY chunk")
        hits = vault.collection("c").search(_vectors(1, seed=3)[0], k=3, filter={"i": {"$lt": 10}})
        assert len(hits) == 3 and all(h.metadata["i"] < 10 for h in hits)
        assert vault.core.storage.query("SELECT chunk, blob FROM vv_snapshots ORDER BY chunk") == stored


def test_a_read_only_vault_uses_the_snapshot_and_stores_nothing(
    tmp_path: Path, key: bytes, read_only_mount: Callable[[Path], Path]
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    _fill(source / "v.db", key, _vectors(N))
    with Vault.open(source / "v.db", key=key) as vault:
        vault.collection("c").add(vectors=_vectors(20, seed=9), ids=[f"y{i}" for i in range(20)])
    frozen = read_only_mount(source) / "v.db"
    with Vault.open(frozen, key=key) as vault:
        assert vault.read_only
        col = vault.collection("c")
        assert col.count() == N + 20 and col.search(_vectors(20, seed=9)[0], k=1)[0].id == "y0"
        assert col._mirror.snapshots.loaded_from_snapshot
        assert not col.compact()


def test_two_saves_of_one_revision_never_mix(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    with Vault.open(path, key=key) as vault:
        storage = vault.core.storage
        first = storage.query("SELECT chunk, CAST(blob AS BLOB) FROM vv_snapshots ORDER BY chunk")
        col = vault.collection("c")
        col.vectors()
        # Another process's index order: the same revision saved with its rows in another order.
        col._mirror.index.remove(["r0"])
        col._mirror.index.upsert(["r0"], vectors[:1].copy(), revs=[storage.revision("c")[0]])
        assert col.compact()
        second = storage.query("SELECT chunk, CAST(blob AS BLOB) FROM vv_snapshots ORDER BY chunk")
        assert len(first) == len(second) and first != second
        last = len(second) - 1
        with storage.transaction():  # one chunk of the first save put among the second's
            storage.query("UPDATE vv_snapshots SET blob = ? WHERE chunk = ?", (first[last][1], last))
    with Vault.open(path, key=key) as vault:
        served, got = _loaded(vault)
        assert not served and _same(got, {f"r{i}": vectors[i] for i in range(N)})


# -- tampering: every edit of the snapshot or of what it is checked against is caught --------------------

Tamper = Callable[[Any], None]


def _swap_chunks(storage: Any) -> None:
    rows = storage.query("SELECT chunk, CAST(blob AS BLOB) FROM vv_snapshots WHERE collection = 'c' ORDER BY chunk")
    a, b = rows[-3], rows[-2]  # two full vector chunks
    storage.query("UPDATE vv_snapshots SET blob = ? WHERE collection = 'c' AND chunk = ?", (a[1], b[0]))
    storage.query("UPDATE vv_snapshots SET blob = ? WHERE collection = 'c' AND chunk = ?", (b[1], a[0]))


def _flip(storage: Any, order: str) -> None:
    sql = f"SELECT chunk, CAST(blob AS BLOB) FROM vv_snapshots WHERE collection = 'c' ORDER BY chunk {order}"
    (number, blob) = storage.query(sql)[0]
    damaged = bytearray(blob)
    damaged[len(damaged) // 2] ^= 1
    storage.query("UPDATE vv_snapshots SET blob = ? WHERE collection = 'c' AND chunk = ?", (bytes(damaged), number))


TAMPERS: dict[str, Tamper] = {
    "bit flipped in the head": lambda s: _flip(s, "ASC"),
    "bit flipped in a vector chunk": lambda s: _flip(s, "DESC"),
    "two chunks swapped": _swap_chunks,
    "a chunk dropped": lambda s: s.query(
        "DELETE FROM vv_snapshots WHERE collection = 'c' AND chunk = "
        "(SELECT max(chunk) FROM vv_snapshots WHERE collection = 'c')"
    ),
    "a chunk in the middle dropped": lambda s: s.query("DELETE FROM vv_snapshots WHERE collection = 'c' AND chunk = 3"),
    "a chunk added": lambda s: s.query(
        "INSERT INTO vv_snapshots SELECT collection, chunk + 1, count, rev, key_id, blob FROM vv_snapshots "
        "WHERE collection = 'c' AND chunk = (SELECT max(chunk) FROM vv_snapshots WHERE collection = 'c')"
    ),
    "chunk count column edited": lambda s: s.query("UPDATE vv_snapshots SET count = count - 1 WHERE collection = 'c'"),
    "revision column edited": lambda s: s.query("UPDATE vv_snapshots SET rev = rev + 1 WHERE collection = 'c'"),
    "blob truncated": lambda s: s.query(
        "UPDATE vv_snapshots SET blob = substr(blob, 1, 10) WHERE collection = 'c' AND chunk = 0"
    ),
    "blob retyped as text": lambda s: s.query(
        "UPDATE vv_snapshots SET blob = 'x' WHERE collection = 'c' AND chunk = 1"
    ),
    "moved to another collection": lambda s: (
        s.query("DELETE FROM vv_snapshots WHERE collection = 'c'"),
        s.query("UPDATE vv_snapshots SET collection = 'c' WHERE collection = 'other'"),
    ),
    "epoch bumped (a pruned deletion log)": lambda s: s.query(
        "UPDATE vv_collections SET epoch = epoch + 1 WHERE name = 'c'"
    ),
    "a deletion-log entry forged": lambda s: s.query(
        "INSERT INTO vv_deletions (collection, id, rev) VALUES ('c', 'r5', (SELECT rev FROM vv_collections "
        "WHERE name = 'c') + 1)"
    ),
    "a record's rowid moved": lambda s: s.query(
        "UPDATE vv_records SET rowid = (SELECT max(rowid) FROM vv_records) + 7 WHERE collection = 'c' AND id = 'r9'"
    ),
    "a record row deleted": lambda s: s.query("DELETE FROM vv_records WHERE collection = 'c' AND id = 'r11'"),
}


@pytest.mark.parametrize("tamper", list(TAMPERS), ids=list(TAMPERS))
def test_a_tampered_snapshot_is_never_used_and_the_records_are_read_instead(
    tmp_path: Path, key: bytes, tamper: str
) -> None:
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    _fill(path, key, _vectors(N, seed=8), name="other")
    model = {f"r{i}": vectors[i] for i in range(N)}
    if tamper == "a record row deleted":
        del model["r11"]
    with Vault.open(path, key=key) as vault:
        storage = vault.core.storage
        with storage.transaction():
            TAMPERS[tamper](storage)
    with Vault.open(path, key=key) as vault:
        served, got = _loaded(vault)
        assert not served, "a tampered snapshot was used"
        assert _same(got, model)  # the records, as they are
        col = vault.collection("c")
        col.search(vectors[0], k=1)  # stores a fresh snapshot after the load from the records
    with Vault.open(path, key=key) as vault:
        served, got = _loaded(vault)
        # A forged deletion-log entry stays in the log: each open then loads from the records, never
        # dropping a record the records table holds.
        assert served == (tamper != "a deletion-log entry forged")
        assert _same(got, model)


def test_a_lowered_record_revision_is_caught_and_the_record_reported(tmp_path: Path, key: bytes) -> None:
    """The delta is chosen by the plaintext rev: lowering one hides a record from it, never from the check."""
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c")
        col.add(vectors=-vectors[7:8], ids=["r7"])  # written after the snapshot
        storage = vault.core.storage
        with storage.transaction():
            storage.query("UPDATE vv_records SET rev = rev - 1 WHERE collection = 'c' AND id = 'r7'")
    # The load from the records opens r7's fields under its edited rev.
    with Vault.open(path, key=key) as vault, pytest.raises(IntegrityError):
        vault.collection("c").vectors()


def test_an_older_snapshot_put_back_still_gives_the_current_records(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    with Vault.open(path, key=key) as vault:
        old = vault.core.storage.query(
            "SELECT collection, chunk, count, rev, key_id, CAST(blob AS BLOB) FROM vv_snapshots"
        )
        col = vault.collection("c")
        fresh = _vectors(50, seed=4)
        col.add(vectors=fresh, ids=[f"r{i}" for i in range(50)])
        assert col.compact()
        storage = vault.core.storage
        with storage.transaction():  # roll the snapshot back to the first one
            storage.query("DELETE FROM vv_snapshots")
            storage.execute_many("INSERT INTO vv_snapshots VALUES (?, ?, ?, ?, ?, ?)", old)
    model = {f"r{i}": vectors[i] for i in range(N)} | {f"r{i}": fresh[i] for i in range(50)}
    with Vault.open(path, key=key) as vault:
        served, got = _loaded(vault)
        assert served  # a valid older snapshot plus a longer delta: the current records, never the old ones
        assert _same(got, model)


def test_a_snapshot_under_a_destroyed_key_goes_with_the_key(tmp_path: Path, key: bytes) -> None:
    from vecvault import lifecycle

    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors)
    with Vault.open(path, key=key) as vault:
        lifecycle.rotate_data_keys(vault.core, "c")
        assert vault.core.storage.snapshot_rev("c") is None
    with Vault.open(path, key=key) as vault:
        served, got = _loaded(vault)
        assert not served and _same(got, {f"r{i}": vectors[i] for i in range(N)})


def test_the_stored_graph_reopens_from_a_current_snapshot_decrypting_no_record_vector(
    tmp_path: Path, key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("hnswlib")
    from vecvault.records import RecordSealer
    from vecvault.search.hnsw import GraphKeeper

    path = tmp_path / "v.db"
    vectors = _vectors(N)
    _fill(path, key, vectors, index="hnsw")
    with Vault.open(path, key=key) as vault:
        vault.collection("c").compact()  # the graph was stored after the snapshot: make them agree
    opened: list[int] = []
    real = RecordSealer.open_vectors_into

    def counting(self: RecordSealer, ids: Any, *args: Any) -> None:
        opened.append(len(ids))
        real(self, ids, *args)

    def general_path(*args: object) -> None:
        raise AssertionError("the reopen took the general path (matrix, then graph)")

    monkeypatch.setattr(RecordSealer, "open_vectors_into", counting)
    monkeypatch.setattr(GraphKeeper, "_load_stored", general_path)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c")
        assert col.search(vectors[9], k=3)[0].id == "r9"
        assert col._graphs.graph is not None and col._mirror.snapshots.loaded_from_snapshot
    assert sum(opened) <= 3  # only the hits' vectors: the index came from the snapshot, into the graph


# -- against a model: random writes, reopens and compactions ---------------------------------------------


@settings(
    max_examples=12,
    stateful_step_count=14,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
class SnapshotMachine(RuleBasedStateMachine):
    """Random add/upsert/delete/clear/reopen/compact sequences: every open equals the model."""

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, np.ndarray] = {}
        self.rng = np.random.default_rng(0)
        self.served = 0

    @initialize()
    def open_vault(self) -> None:
        self.dir = Path(os.environ["VECVAULT_TEST_TMP"]) / os.urandom(6).hex()
        self.dir.mkdir()
        self.key = os.urandom(32)
        self.vault = Vault.open(self.dir / "v.db", key=self.key)
        self.col = self.vault.collection("c", dim=DIM)

    def _ids(self, count: int, prefix: str) -> list[str]:
        return [f"{prefix}{self.rng.integers(0, 400)}" for _ in range(count)]

    @rule(count=st.integers(1, 120))
    def add(self, count: int) -> None:
        ids = list(dict.fromkeys(self._ids(count, "a")))
        vectors = self.rng.standard_normal((len(ids), DIM)).astype(np.float32)
        self.col.add(vectors=vectors, ids=ids)
        self.model.update(zip(ids, vectors, strict=True))

    @precondition(lambda self: bool(self.model))
    @rule(count=st.integers(1, 10))
    def delete(self, count: int) -> None:
        ids = sorted(self.model)[:count]
        self.col.delete(ids)
        for record_id in ids:
            del self.model[record_id]

    @rule()
    def clear(self) -> None:
        self.col.clear()
        self.model.clear()

    @rule()
    def search(self) -> None:
        if self.model:
            query = self.rng.standard_normal(DIM).astype(np.float32)
            assert [h.id for h in self.col.search(query, k=3)] == _model_top(self.model, query, 3)

    @rule()
    def compact(self) -> None:
        self.col.compact()

    @rule()
    def reopen(self) -> None:
        self.vault.close()
        self.vault = Vault.open(self.dir / "v.db", key=self.key)
        self.col = self.vault.collection("c")
        ids, vectors = self.col.vectors()
        assert _same(dict(zip(ids, vectors, strict=True)), self.model)
        self.served += self.col._mirror.snapshots.loaded_from_snapshot

    @rule()
    def write_from_another_connection(self) -> None:
        with Vault.open(self.dir / "v.db", key=self.key) as other:
            ids = list(dict.fromkeys(self._ids(20, "a")))
            vectors = self.rng.standard_normal((len(ids), DIM)).astype(np.float32)
            other.collection("c").add(vectors=vectors, ids=ids)
            self.model.update(zip(ids, vectors, strict=True))

    @invariant()
    def counts_agree(self) -> None:
        if hasattr(self, "col"):
            assert self.col.count() == len(self.model)

    def teardown(self) -> None:
        if hasattr(self, "vault"):
            self.vault.close()


@pytest.fixture
def machine_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECVAULT_TEST_TMP", str(tmp_path))


def test_snapshot_and_delta_against_a_model(machine_tmp: None) -> None:
    SnapshotMachine.TestCase().runTest()


def test_a_vault_from_before_snapshots_migrates_and_stores_one(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "v.db"
    vectors = _vectors(N)
    with Vault.open(path, key=key) as vault:
        vault.collection("c", dim=DIM).add(vectors=vectors, ids=[f"r{i}" for i in range(N)])
        storage = vault.core.storage
        with storage.transaction():  # back to schema 6: no snapshot table
            storage.query("DROP TABLE vv_snapshots")
            storage.query("UPDATE vv_meta SET value = ? WHERE key = 'schema_version'", (b"6",))
    with Vault.open(path, key=key) as vault:
        assert vault.core.storage.schema_version() == 7
        served, got = _loaded(vault)
        assert not served and _same(got, {f"r{i}": vectors[i] for i in range(N)})
        vault.collection("c").search(vectors[0], k=1)  # the load from the records stores the first snapshot
    with Vault.open(path, key=key) as vault:
        served, got = _loaded(vault)
        assert served and _same(got, {f"r{i}": vectors[i] for i in range(N)})
