"""A stateful property test: random operation sequences on a real vault file, checked against a Python model.

Two connections (two ``Vault.open`` on one file, in this process) stay open across steps. Writes go
mostly through the first and sometimes through the second; after every step both must agree with a plain
dict model (the freshness rule: a write by another connection is visible to the next query). Two
collections are driven side by side, so rotating, clearing or writing one is checked not to disturb the
other. Vectors sit on a coarse grid (multiples of 1/4), so scores are exact enough to compare and ties are
common: search results are checked as *a* valid exact top-k (ties in any order), never one fixed order.
"""

from __future__ import annotations

import itertools
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from vecvault import Collection, Vault
from vecvault.keys import StaticKeyProvider
from vecvault.lifecycle import KeyInfo

DIM = 4
NAMES = ("left", "right")
ID_POOL = ("a", "b", "c", "d", "e", "f", "g-ü", "h h")  # small, so adds, upserts and deletes collide
TAGS = ("red", "green", "blue")
METRICS = ("cosine", "dot", "euclidean")
SCORE_TOL = 1e-4
# Writes go through the first connection two times in three, else through the second.
VIA = st.sampled_from((0, 0, 1))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# One table of filters: the dict the vault parses, and the model's reading of it (filters module docstring:
# a missing key and None are both "absent", except to $exists, which asks for the key; ordering across types
# is a non-match; $ne is true on absent).
FILTERS: tuple[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]], ...] = (
    ({"tag": "red"}, lambda m: m.get("tag") == "red"),
    ({"n": {"$gte": 2}}, lambda m: _number(m.get("n")) and m["n"] >= 2),
    (
        {"$or": [{"tag": "blue"}, {"n": {"$lt": 1}}]},
        lambda m: m.get("tag") == "blue" or (_number(m.get("n")) and m["n"] < 1),
    ),
    ({"n": {"$exists": False}}, lambda m: "n" not in m),
    (
        {"tag": {"$in": ["red", "green"]}, "n": {"$ne": 1}},
        lambda m: m.get("tag") in ("red", "green") and m.get("n") != 1,
    ),
    ({"$not": {"tag": "green"}}, lambda m: m.get("tag") != "green"),
)
FILTER_INDEX = st.integers(0, len(FILTERS) - 1)

GRID = st.integers(-8, 8).map(lambda v: v / 4)
VECTORS = st.lists(GRID, min_size=DIM, max_size=DIM)
TEXTS = st.text(max_size=12)
METADATA = st.fixed_dictionaries(
    {"tag": st.sampled_from(TAGS)},
    optional={"n": st.none() | st.integers(0, 3) | st.just("2"), "note": st.text(max_size=6)},
)


@dataclass(frozen=True)
class Row:
    """What the model holds for one record."""

    text: str
    metadata: dict[str, Any]
    vector: np.ndarray  # float32, exactly as stored


Batch = tuple[list[str], list[str] | None, list[dict[str, Any]] | None, Any]
ANY_IDS = st.lists(st.sampled_from(ID_POOL), min_size=1, max_size=6, unique=True)
SOME_IDS = st.lists(st.sampled_from(ID_POOL), min_size=1, max_size=5)  # present and absent, repeats allowed


@st.composite
def batches(draw: st.DrawFn, ids: st.SearchStrategy[list[str]]) -> Batch:
    """(ids, texts or None, metadatas or None, vectors) for one add call."""
    chosen = draw(ids)
    texts = draw(st.none() | st.lists(TEXTS, min_size=len(chosen), max_size=len(chosen)))
    metadatas = draw(st.none() | st.lists(METADATA, min_size=len(chosen), max_size=len(chosen)))
    vectors = draw(st.lists(VECTORS, min_size=len(chosen), max_size=len(chosen)))
    as_array = draw(st.booleans())
    return chosen, texts, metadatas, (np.array(vectors, dtype=np.float32) if as_array else vectors)


def model_score(metric: str, query: np.ndarray, vector: np.ndarray) -> float:
    """The similarity ``vecvault.index`` documents, in float64 (a zero vector stays zero for cosine)."""
    q = query.astype(np.float64)
    x = vector.astype(np.float64)
    if metric == "cosine":
        nq, nx = np.linalg.norm(q), np.linalg.norm(x)
        return float((q / (nq or 1.0)) @ (x / (nx or 1.0)))
    if metric == "dot":
        return float(q @ x)
    return 1.0 / (1.0 + float(np.linalg.norm(q - x)))


class VaultMachine(RuleBasedStateMachine):
    """Drives two connections to one vault file and keeps a dict model of both collections."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(dir=root))
        self.path = self.dir / "vault.db"
        self.provider = StaticKeyProvider.generate()
        self.conns: list[Vault] = []
        self.handles: list[dict[str, Collection]] = []
        self.metrics: dict[str, str] = {}
        self.model: dict[str, dict[str, Row]] = {name: {} for name in NAMES}
        self.steps = 0

    # -- connections -------------------------------------------------------------------------------------

    def _open(self, conn: int, **kwargs: Any) -> None:
        """(Re)open one connection and take its collection handles, which then live until it is closed."""
        vault = Vault.open(self.path, key=self.provider, **kwargs)
        handles = {name: vault.collection(name, dim=DIM, metric=self.metrics[name]) for name in NAMES}
        if conn == len(self.conns):
            self.conns.append(vault)
            self.handles.append(handles)
        else:
            self.conns[conn], self.handles[conn] = vault, handles

    def col(self, conn: int, name: str) -> Collection:
        return self.handles[conn][name]

    @initialize(
        metric_left=st.sampled_from(METRICS),
        metric_right=st.sampled_from(METRICS),
        file_encryption=st.booleans(),
        seed_left=batches(ANY_IDS),
        seed_right=batches(ANY_IDS),
    )
    def open_both(
        self, metric_left: str, metric_right: str, file_encryption: bool, seed_left: Batch, seed_right: Batch
    ) -> None:
        self.metrics = {"left": metric_left, "right": metric_right}
        self._open(0, file_encryption=file_encryption)  # creates both collections (dim given)
        self._open(1)  # ... so the second connection only ever finds them
        assert self.conns[1].file_encrypted is file_encryption
        # Most examples start with records, so deletes, rotations and searches have something to act on.
        for name, seed in (("left", seed_left), ("right", seed_right)):
            self._add(name, seed, 0)

    @rule(which=st.sampled_from(("first", "second", "both")))
    def reopen(self, which: str) -> None:
        targets = {"first": [0], "second": [1], "both": [0, 1]}[which]
        for i in targets:
            self.conns[i].close()
        for i in targets:
            self._open(i, create=False)
        for conn in self.conns:
            assert sorted(conn.collections()) == sorted(NAMES)

    # -- writes ------------------------------------------------------------------------------------------
    # Each write is a helper that calls the vault, checks its answer and updates the model; the rules below
    # call one, ``burst`` calls several before anyone reads, and a rotation calls some between its batches.

    def _add(self, name: str, batch: Batch, via: int) -> None:
        ids, texts, metadatas, vectors = batch
        assert self.col(via, name).add(texts=texts, vectors=vectors, metadatas=metadatas, ids=ids) == ids
        matrix = np.asarray(vectors, dtype=np.float32)
        for i, record_id in enumerate(ids):
            self.model[name][record_id] = Row(
                text="" if texts is None else texts[i],
                metadata={} if metadatas is None else dict(metadatas[i]),
                vector=matrix[i].copy(),
            )

    def _delete(self, name: str, ids: list[str] | None, which: int | None, via: int) -> None:
        candidates = self.model[name] if ids is None else {i: self.model[name][i] for i in ids if i in self.model[name]}
        where = None
        if which is not None:
            where, matches = FILTERS[which]
            candidates = {i: row for i, row in candidates.items() if matches(row.metadata)}
        assert self.col(via, name).delete(ids=ids, filter=where) == len(candidates)
        for record_id in candidates:
            del self.model[name][record_id]

    def _clear(self, name: str, via: int) -> None:
        assert self.col(via, name).clear() == len(self.model[name])
        self.model[name].clear()

    def _upsert_drawn(self, data: st.DataObject, via: int) -> None:
        """Overwrite some existing records (of a non-empty collection) with new text, metadata and vector."""
        name = data.draw(st.sampled_from([n for n in NAMES if self.model[n]]), label="collection")
        present = sorted(self.model[name])
        ids = data.draw(st.lists(st.sampled_from(present), min_size=1, max_size=len(present), unique=True))
        self._add(name, data.draw(batches(st.just(ids)), label="batch"), via)

    def _write_drawn(self, data: st.DataObject) -> None:
        """One write of any kind, drawn now (so it can depend on the model's current state)."""
        kinds = ["add", "delete_ids", "delete_by_filter"] + (["upsert", "clear"] if any(self.model.values()) else [])
        kind = data.draw(st.sampled_from(kinds), label="write")
        via = data.draw(VIA, label="via")
        name = data.draw(st.sampled_from(NAMES), label="collection")
        if kind == "add":
            self._add(name, data.draw(batches(ANY_IDS), label="batch"), via)
        elif kind == "delete_ids":
            self._delete(name, data.draw(SOME_IDS, label="ids"), None, via)
        elif kind == "delete_by_filter":
            self._delete(name, data.draw(st.none() | SOME_IDS, label="ids"), data.draw(FILTER_INDEX), via)
        elif kind == "upsert":
            self._upsert_drawn(data, via)
        else:
            self._clear(data.draw(st.sampled_from([n for n in NAMES if self.model[n]])), via)

    @rule(name=st.sampled_from(NAMES), batch=batches(ANY_IDS), via=VIA)
    def add(self, name: str, batch: Batch, via: int) -> None:
        self._add(name, batch, via)

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data(), via=VIA)
    def upsert_existing(self, data: st.DataObject, via: int) -> None:
        self._upsert_drawn(data, via)

    @rule(name=st.sampled_from(NAMES), ids=SOME_IDS, via=VIA)
    def delete_ids(self, name: str, ids: list[str], via: int) -> None:
        self._delete(name, ids, None, via)

    @rule(name=st.sampled_from(NAMES), which=FILTER_INDEX, ids=st.none() | SOME_IDS, via=VIA)
    def delete_by_filter(self, name: str, which: int, ids: list[str] | None, via: int) -> None:
        self._delete(name, ids, which, via)

    @precondition(lambda self: any(self.model.values()))
    @rule(data=st.data(), via=VIA)
    def clear(self, data: st.DataObject, via: int) -> None:
        self._clear(data.draw(st.sampled_from([n for n in NAMES if self.model[n]]), label="collection"), via)

    @rule(data=st.data(), writes=st.integers(2, 5))
    def burst(self, data: st.DataObject, writes: int) -> None:
        """Several writes, through either connection, with no read in between: each reader lags by several."""
        for _ in range(writes):
            self._write_drawn(data)

    @rule(
        scope=st.sampled_from((None, *NAMES)),
        batch_size=st.integers(1, 3),
        via=VIA,
        data=st.data(),
        interleaved=st.integers(0, 3),
    )
    def rotate_data_keys(
        self, scope: str | None, batch_size: int, via: int, data: st.DataObject, interleaved: int
    ) -> None:
        """Rotate (every scope, or one collection) in small batches, with writes between the batches."""
        before = self.conns[0].key_info()
        pending = [interleaved]

        def between_batches(done: int, total: int) -> None:
            if pending[0]:  # progress runs outside the rotation's transactions: other writers may go here
                pending[0] -= 1
                self._write_drawn(data)

        reports = self.conns[via].rotate_data_keys(scope, batch_size=batch_size, progress=between_batches)
        after = self.conns[0].key_info()
        rotated = [*NAMES, ""] if scope is None else [scope]
        assert sorted(r.scope for r in reports) == sorted(rotated)
        for report in reports:
            old = {k.key_id for k in before if k.scope == report.scope and k.state != "destroyed"}
            assert not report.resumed
            if not interleaved:
                assert report.resealed == len(self.model.get(report.scope, {}))
            assert set(report.destroyed) == old
            mine = [k for k in after if k.scope == report.scope]
            (primary,) = [k for k in mine if k.state == "primary"]
            assert primary.key_id == report.primary_key_id and primary.key_id not in old
            assert all(k.state == "destroyed" for k in mine if k is not primary)
            assert primary.records == len(self.model.get(report.scope, {}))
        # The scopes not rotated keep their keys as they were (and, without other writes, their counts too).
        untouched_before = {k for k in before if k.scope not in rotated}
        untouched_after = {k for k in after if k.scope not in rotated}
        assert {(k.key_id, k.state) for k in untouched_before} == {(k.key_id, k.state) for k in untouched_after}
        if not interleaved:
            assert untouched_before == untouched_after

    # -- reads with drawn arguments ----------------------------------------------------------------------

    @rule(
        name=st.sampled_from(NAMES),
        ids=st.lists(st.sampled_from(ID_POOL), max_size=6),
        which=st.none() | FILTER_INDEX,
        include_vectors=st.booleans(),
        conn=st.sampled_from((0, 1)),
    )
    def get_by_ids(self, name: str, ids: list[str], which: int | None, include_vectors: bool, conn: int) -> None:
        rows = self.model[name]
        if which is None:
            records = self.col(conn, name).get(ids, include_vectors=include_vectors)
            wanted = [i for i in ids if i in rows]  # in the order asked, duplicates kept, missing skipped
        else:
            where, matches = FILTERS[which]
            records = self.col(conn, name).get(ids, filter=where, include_vectors=include_vectors)
            wanted = [i for i in dict.fromkeys(ids) if i in rows and matches(rows[i].metadata)]  # once each
        assert [r.id for r in records] == wanted, f"connection {conn}, {name!r}"
        for record in records:
            self._check_record(name, record, with_vector=include_vectors)

    @rule(name=st.sampled_from(NAMES), limit=st.integers(0, len(ID_POOL) + 1), conn=st.sampled_from((0, 1)))
    def get_with_limit(self, name: str, limit: int, conn: int) -> None:
        records = self.col(conn, name).get(limit=limit, include_vectors=False)
        assert len(records) == min(limit, len(self.model[name])), f"connection {conn}, {name!r}"
        assert len({r.id for r in records}) == len(records)
        for record in records:
            self._check_record(name, record, with_vector=False)

    @rule(
        name=st.sampled_from(NAMES),
        query=VECTORS,
        k=st.integers(1, len(ID_POOL) + 1),
        which=st.none() | FILTER_INDEX,
        conn=st.sampled_from((0, 1)),
    )
    def search(self, name: str, query: list[float], k: int, which: int | None, conn: int) -> None:
        self._check_search(conn, name, np.array(query, dtype=np.float32), k, which)

    # -- invariants --------------------------------------------------------------------------------------

    @invariant()
    def both_connections_match_the_model(self) -> None:
        if not self.conns:
            return
        self.steps += 1
        for conn in (1, 0):  # the second connection first: its first call after a write must be fresh
            for name in NAMES:
                self._check_collection(conn, name)

    @invariant()
    def every_field_opens_and_no_destroyed_key_holds_a_record(self) -> None:
        """The end-of-run checks (verify, key_info), run after every step so the last state is checked too."""
        if not self.conns:
            return
        total = sum(len(rows) for rows in self.model.values())
        for conn in self.conns:
            report = conn.verify()
            assert report.ok, report.failures
            assert (report.collections, report.records) == (len(NAMES), total)
        self._check_keys(self.conns[0].key_info())

    def _check_collection(self, conn: int, name: str) -> None:
        col = self.col(conn, name)
        rows = self.model[name]
        ctx = f"connection {conn}, {name!r}"
        # The index-backed reads go first, so a stale in-memory index is what they would meet.
        if rows:
            present = sorted(rows)
            self._check_search(conn, name, rows[present[self.steps % len(present)]].vector, 1, None)
        where, matches = FILTERS[self.steps % len(FILTERS)]
        filtered = col.get(filter=where)
        assert sorted(r.id for r in filtered) == sorted(i for i, row in rows.items() if matches(row.metadata)), ctx
        for record in filtered:
            self._check_record(name, record, with_vector=True)
        if rows:  # k above the size: the hits are exactly the records the filter matches
            self._check_search(conn, name, rows[sorted(rows)[0]].vector, len(ID_POOL), self.steps % len(FILTERS))
        assert col.count() == len(rows), ctx
        assert set(col.ids()) == set(rows), ctx
        everything = col.get()
        assert sorted(r.id for r in everything) == sorted(rows), ctx
        for record in everything:
            self._check_record(name, record, with_vector=True)

    def _check_record(self, name: str, record: Any, *, with_vector: bool) -> None:
        assert record.id in self.model[name], f"{record!r} is not in {name!r}"
        row = self.model[name][record.id]
        assert (record.text, record.metadata) == (row.text, row.metadata), record
        if with_vector:
            # get() opens the stored field: the float32 values as given, never normalised (cosine too).
            assert record.vector is not None and record.vector.dtype == np.float32
            assert np.array_equal(record.vector, row.vector)
        else:
            assert record.vector is None

    def _check_search(self, conn: int, name: str, query: np.ndarray, k: int, which: int | None) -> None:
        """The hits are *an* exact top-k of the matching records: right size, right scores, nothing better left."""
        metric = self.metrics[name]
        matching = self.model[name]
        where = None
        if which is not None:
            where, matches = FILTERS[which]
            matching = {i: row for i, row in matching.items() if matches(row.metadata)}
        hits = self.col(conn, name).search(query, k=k, filter=where)
        scores = {i: model_score(metric, query, row.vector) for i, row in matching.items()}
        ctx = f"connection {conn}, {name!r}, search({query.tolist()}, k={k}, filter={where}) -> {hits}"
        assert len(hits) == min(k, len(matching)), ctx
        assert len({h.id for h in hits}) == len(hits), ctx
        for hit in hits:
            assert hit.id in matching, ctx
            assert math.isclose(hit.score, scores[hit.id], abs_tol=SCORE_TOL), f"{ctx}; model score {scores[hit.id]}"
            assert hit.text == matching[hit.id].text and hit.metadata == matching[hit.id].metadata, ctx
        for better, worse in itertools.pairwise(hits):
            assert better.score >= worse.score - SCORE_TOL, ctx
        left_out = [s for i, s in scores.items() if i not in {h.id for h in hits}]
        if hits and left_out:
            assert max(left_out) <= hits[-1].score + SCORE_TOL, f"{ctx}; a better record was left out"

    def _check_keys(self, keys: list[KeyInfo]) -> None:
        for key in keys:
            if key.state == "destroyed":
                assert key.records == 0, key
        for scope in (*NAMES, ""):
            mine = [k for k in keys if k.scope == scope]
            assert [k.state for k in mine].count("primary") == 1, mine
            assert sum(k.records for k in mine) == len(self.model.get(scope, {}))

    def teardown(self) -> None:
        for conn in self.conns:
            conn.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_vault_matches_its_model_under_random_operations(tmp_path: Path) -> None:
    run_state_machine_as_test(
        lambda: VaultMachine(tmp_path),
        settings=settings(max_examples=25, stateful_step_count=20, deadline=None, report_multiple_bugs=False),
    )
