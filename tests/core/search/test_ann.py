"""The HNSW mode: same answers as the exact path (approximately), filters, sealed persistence, tampering."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hnswlib")

from vecvault import ConfigurationError, IntegrityError, Vault
from vecvault.ann import HnswIndex
from vecvault.crypto import chunked as ann_store
from vecvault.index import VectorIndex
from vecvault.storage import SCHEMA_VERSION

DIM = 8
N = 1200  # above the size that makes a catch-up save the graph


@pytest.fixture
def data() -> tuple[np.ndarray, list[dict[str, int]]]:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    metas = [{"topic": i % 10, "rare": int(i % 400 == 0)} for i in range(N)]
    return vectors, metas


@pytest.fixture
def vault_path(tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    path = tmp_path / "ann.db"
    key = os.urandom(32)
    try:
        yield path, key
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def _fill(path: Path, key: bytes, vectors: np.ndarray, metas: list[dict[str, int]]) -> None:
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", dim=DIM, index="hnsw")
        col.add(vectors=vectors, metadatas=metas, ids=[f"r{i}" for i in range(len(vectors))])
        col.search(vectors[0], k=3)  # builds the graph and stores it


def _exact_ids(vault: Vault, q: np.ndarray, k: int, flt: object = None) -> list[str]:
    col = vault.collection("c", index="exact")
    try:
        return [h.id for h in col.search(q, k=k, filter=flt)]
    finally:
        vault.collection("c", index="hnsw")


def test_hnsw_matches_exact_search(vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list]) -> None:
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", index="hnsw")
        queries = np.random.default_rng(1).standard_normal((20, DIM)).astype(np.float32)
        overlap = []
        for q in queries:
            got = col.search(q, k=10)
            want = _exact_ids(vault, q, 10)
            overlap.append(len({h.id for h in got} & set(want)) / 10)
            scores = [h.score for h in got]
            assert scores == sorted(scores, reverse=True)
        assert np.mean(overlap) >= 0.95
        assert col._graphs.graph is not None


@pytest.mark.parametrize("flt", [{"topic": 3}, {"rare": 1}, {"topic": {"$in": [1, 2, 3, 4, 5]}}])
def test_filtered_hnsw_returns_k_matching_hits(
    vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list], flt: dict
) -> None:
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", index="hnsw")
        matching = len(col.get(filter=flt, include_vectors=False))
        hits = col.search(vectors[5], k=5, filter=flt)
        assert len(hits) == min(5, matching)
        from vecvault.filters import evaluate, parse_filter

        parsed = parse_filter(flt)
        assert all(evaluate(parsed, h.metadata) for h in hits)


def test_reopen_loads_the_stored_graph(vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list]) -> None:
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    with Vault.open(path, key=key) as vault:
        stored = vault.core.storage.load_ann("c")
        assert stored
        assert stored[0][2] == vault.core.storage.revision("c")[0]
        col = vault.collection("c", index="hnsw")
        col.search(vectors[1], k=3)
        assert col._graphs.graph is not None
        assert len(col._graphs.graph) == N
        assert vault.core.storage.load_ann("c") == stored  # loaded, not rebuilt and re-saved
        # Nothing readable: no chunk contains a vector's raw bytes.
        assert all(vectors[1].tobytes()[:16] not in row[4] for row in stored)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_reopen_decrypts_each_vector_once_into_the_stored_graph(
    tmp_path: Path, metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vecvault.search.hnsw import GraphKeeper

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    metas = [{"rare": int(i % 300 == 0), "topic": i % 4} for i in range(N)]
    path, key = tmp_path / "r.db", os.urandom(32)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", dim=DIM, metric=metric, index="hnsw")
        col.add(vectors=vectors, metadatas=metas, ids=[f"r{i}" for i in range(N)])
        col.search(vectors[0], k=3)  # builds and stores the graph
    exact = VectorIndex(DIM, metric)
    exact.upsert([f"r{i}" for i in range(N)], vectors.copy())
    queries = rng.standard_normal((10, DIM)).astype(np.float32)
    rare = np.array([m["rare"] == 1 for m in metas])

    def general_path(*args: object) -> None:
        raise AssertionError("the reopen took the general path (matrix, then graph)")

    monkeypatch.setattr(GraphKeeper, "_load_stored", general_path)
    for with_filter_first in (False, True):
        with Vault.open(path, key=key) as vault:
            col = vault.collection("c", metric=metric, index="hnsw")
            if with_filter_first:  # the first load already needs metadata
                got = [h.id for h in col.search(queries[0], k=3, filter={"rare": 1})]
                assert got == [exact.ids[s.row] for s in exact.search(queries[0], 3, rare)]
            assert col.search(queries[1], k=1)
            index = col._mirror.index
            # Born released: the rows were decrypted straight into the graph, never into a matrix.
            graph = col._graphs.graph
            assert index is not None and index.released and graph is not None and graph.source is index
            ids, held = col.vectors()
            assert np.allclose(held, exact.vectors[[exact.row_of(i) for i in ids]], atol=1e-6)
            hits = 0
            for q in queries:
                want = [exact.ids[s.row] for s in exact.search(q, 5)]
                got_hits = col.search(q, k=5)
                hits += len({h.id for h in got_hits} & set(want))
                for h in got_hits:
                    assert h.score == pytest.approx(
                        exact.score_rows(exact.prepare_query(q), np.array([exact.row_of(h.id)]))[0], abs=1e-5
                    )
            assert hits >= 48
            got = [h.id for h in col.search(queries[2], k=3, filter={"rare": 1})]
            assert got == [exact.ids[s.row] for s in exact.search(queries[2], 3, rare)]


def test_stale_graph_catches_up_from_deltas(vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list]) -> None:
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    far = np.full((1, DIM), 9.0, dtype=np.float32)
    with Vault.open(path, key=key) as vault:  # a write after the graph was saved; no search here
        col = vault.collection("c")
        col.add(vectors=far, ids=["late"])
        col.add(vectors=-vectors[:1], ids=["r0"])  # an upsert moves r0
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", index="hnsw")
        assert col.search(far[0], k=1)[0].id == "late"
        assert col.search(-vectors[0], k=1)[0].id == "r0"


def test_tampered_graph_is_rebuilt_not_trusted(vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list]) -> None:
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    with Vault.open(path, key=key) as vault:
        chunk, count, rev, key_id, blob = vault.core.storage.load_ann("c")[0]
        flipped = blob[:40] + bytes([blob[40] ^ 1]) + blob[41:]
        with vault.core.storage.transaction():
            vault.core.storage.save_ann("c", [(chunk, count, rev, key_id, flipped)])
        with pytest.raises(IntegrityError):
            ann_store.open_graph(
                vault.core.keys.keyset,
                vault.core.keys.vault_id,
                "c",
                [ann_store.SealedChunk(chunk, count, rev, key_id, flipped)],
            )
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", index="hnsw")
        q = vectors[7]
        assert col.search(q, k=1)[0].id == "r7"
        assert len(col._graphs.graph) == N  # rebuilt from the records


def test_chunks_are_bound_to_collection_revision_and_position(vault_path: tuple[Path, bytes]) -> None:
    path, key = vault_path
    with Vault.open(path, key=key) as vault:
        vault.collection("c", dim=DIM).add(vectors=np.ones((1, DIM), dtype=np.float32))
        primary = vault.core.keys.keyset.primary("c")
        data = os.urandom(ann_store.CHUNK_BYTES + 10)
        chunks = list(ann_store.seal_graph(primary, vault.core.keys.vault_id, "c", 5, data))
        assert len(chunks) == 2
        assert ann_store.open_graph(vault.core.keys.keyset, vault.core.keys.vault_id, "c", chunks) == (5, data)
        with pytest.raises(IntegrityError):
            ann_store.open_graph(vault.core.keys.keyset, vault.core.keys.vault_id, "c", chunks[:1])  # a dropped chunk
        swapped = [
            ann_store.SealedChunk(0, 2, 5, chunks[1].key_id, chunks[1].blob),
            ann_store.SealedChunk(1, 2, 5, chunks[0].key_id, chunks[0].blob),
        ]
        with pytest.raises(IntegrityError):
            ann_store.open_graph(vault.core.keys.keyset, vault.core.keys.vault_id, "c", swapped)
        stale = [ann_store.SealedChunk(c.index, c.count, 4, c.key_id, c.blob) for c in chunks]
        with pytest.raises(IntegrityError):
            ann_store.open_graph(vault.core.keys.keyset, vault.core.keys.vault_id, "c", stale)
        with pytest.raises(IntegrityError):
            ann_store.open_graph(vault.core.keys.keyset, vault.core.keys.vault_id, "other", chunks)


def test_delete_drops_the_stored_graph_and_hides_deleted(
    vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list]
) -> None:
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", index="hnsw")
        assert col.search(vectors[3], k=1)[0].id == "r3"
        col.delete(["r3"])
        assert vault.core.storage.load_ann("c") == []
        assert "r3" not in {h.id for h in col.search(vectors[3], k=10)}
        # The next search stores the graph again: without the deleted id, and without any vector.
        chunks = [ann_store.SealedChunk(*r) for r in vault.core.storage.load_ann("c")]
        assert chunks
        _, plain = ann_store.open_graph(vault.core.keys.keyset, vault.core.keys.vault_id, "c", chunks)
        assert b'"r3"' not in plain and b'"r4"' in plain
        normalised = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        assert normalised[3].astype(np.float32).tobytes() not in plain
    with Vault.open(path, key=key) as vault:  # the stored graph is used, its deleted element stays deleted
        col = vault.collection("c", index="hnsw")
        assert "r3" not in {h.id for h in col.search(vectors[3], k=10)}
        assert col._graphs.graph is not None and col._graphs.graph.deleted == 1 and len(col._graphs.graph) == N - 1


def test_a_graph_with_many_deleted_elements_is_rebuilt(
    vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    from vecvault.search import graph as ann

    monkeypatch.setattr(ann, "_REBUILD_MIN_DELETED", 10)
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", index="hnsw")
        col.search(vectors[0], k=1)
        first = col._graphs.graph
        col.delete([f"r{i}" for i in range(50)])  # 50 of 1,200: under a tenth, the graph only marks them
        col.search(vectors[60], k=1)
        assert col._graphs.graph is first and first.deleted == 50
        col.delete([f"r{i}" for i in range(50, 200)])  # 200 of 1,200: past a tenth, a fresh graph
        assert col.search(vectors[300], k=1)[0].id == "r300"
        rebuilt = col._graphs.graph
        assert rebuilt is not first and rebuilt is not None and rebuilt.deleted == 0 and len(rebuilt) == N - 200
        assert col._mirror.index is not None and col._mirror.index.released
        ids, got = col.vectors()
        normalised = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        assert np.allclose(got, normalised[[int(i[1:]) for i in ids]], atol=1e-6)


def test_graph_bytes_round_trip_and_garbage() -> None:
    source = VectorIndex(DIM, "cosine")
    graph = HnswIndex(DIM, "cosine")
    graph.attach(source)
    vectors = np.random.default_rng(2).standard_normal((51, DIM)).astype(np.float32)
    source.upsert([f"r{i}" for i in range(50)], vectors[:50], revs=3)
    assert graph.catch_up(progress=False) == 50
    graph.rev = 3
    copy = HnswIndex.from_bytes(graph.to_bytes(), source)
    copy.attach(source)
    assert copy.behind == 0
    assert copy.rev == 3
    q = source.vectors[9]
    assert source.ids[int(copy.candidates(q, 1)[0][0])] == "r9"
    with pytest.raises(IntegrityError):
        HnswIndex.from_bytes(b"not a graph", source)
    # What changed since the graph is read from the source's write versions (as the seals authenticated them).
    source.upsert(["r4"], vectors[50:], revs=4)
    again = HnswIndex.from_bytes(graph.to_bytes(), source)
    again.attach(source)
    assert again.behind == 1
    source.upsert(["r4"], vectors[4:5])  # a row of unknown write version is always re-inserted
    third = HnswIndex.from_bytes(graph.to_bytes(), source)
    third.attach(source)
    assert third.behind == 1


def test_stored_graph_leaves_out_vectors_and_gets_them_back_from_the_records() -> None:
    rng = np.random.default_rng(5)
    source = VectorIndex(DIM, "cosine")
    graph = HnswIndex(DIM, "cosine")
    graph.attach(source)
    source.upsert([f"r{i}" for i in range(300)], rng.standard_normal((300, DIM)).astype(np.float32))
    graph.catch_up(progress=False)
    data = graph.to_bytes()
    for row in (0, 150, 299):
        assert source.vectors[row].tobytes() not in data  # the vectors live sealed in the records only
    copy = HnswIndex.from_bytes(data, source)
    copy.attach(source)
    for q in rng.standard_normal((20, DIM)).astype(np.float32):
        q /= np.linalg.norm(q)
        want = graph._graph.knn_query(q, k=5)
        got = copy._graph.knn_query(q, k=5)
        assert np.array_equal(want[0], got[0]) and np.allclose(want[1], got[1])
    labels = np.array([copy._label_of[i] for i in source.ids[:10]])
    assert np.array_equal(copy._graph.get_items(labels, return_type="numpy"), source.vectors[:10])
    # A record deleted after the save is absent from the source: its element is marked deleted on attach.
    source.remove(["r7"])
    late = HnswIndex.from_bytes(data, source)
    late.attach(source)
    late.catch_up(progress=False)
    assert late.deleted == 1
    assert "r7" not in {source.ids[int(r)] for r in late.candidates(graph._graph.get_items([7])[0], 5)[0]}


def test_index_option_is_checked(tmp_path: Path) -> None:
    with Vault.open(tmp_path / "o.db", key=os.urandom(32)) as vault:
        with pytest.raises(ConfigurationError, match="Unknown index"):
            vault.collection("c", dim=DIM, index="ivf")
        col = vault.collection("c", dim=DIM, index="auto")
        col.add(vectors=np.eye(DIM, dtype=np.float32))
        assert col.search(np.eye(DIM, dtype=np.float32)[2], k=1)[0].score == pytest.approx(1.0)
        assert col._graphs.graph is None  # auto stays exact for small collections


def test_schema_migrates_from_version_1(tmp_path: Path) -> None:
    path, key = tmp_path / "m.db", os.urandom(32)
    with Vault.open(path, key=key, file_encryption=False) as vault:
        vault.collection("c", dim=DIM).add(vectors=np.ones((1, DIM), dtype=np.float32))
        vault.core.storage.query("DROP TABLE vv_ann")
        vault.core.storage.query("UPDATE vv_meta SET value = ? WHERE key = 'schema_version'", (b"1",))
    with Vault.open(path, key=key) as vault:
        assert vault.core.storage.schema_version() == SCHEMA_VERSION
        assert vault.core.storage.load_ann("c") == []


def test_search_ef_grows_with_the_graph_unless_given() -> None:
    assert HnswIndex(DIM, "cosine").search_ef() == 128
    assert HnswIndex(DIM, "cosine", ef=40).search_ef() == 40


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_a_caught_up_graph_holds_the_only_copy_of_the_vectors(tmp_path: Path, metric: str) -> None:
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    metas = [{"rare": int(i % 400 == 0)} for i in range(N)]
    ids = [f"r{i}" for i in range(N)]
    with Vault.open(tmp_path / "m.db", key=os.urandom(32)) as vault:
        col = vault.collection("c", dim=DIM, metric=metric, index="hnsw")
        col.add(vectors=vectors, metadatas=metas, ids=ids)
        exact = VectorIndex(DIM, metric)
        exact.upsert(ids, vectors.copy())
        col.search(vectors[0], k=3)
        index = col._mirror.index
        assert index is not None and index.released
        # Gathered rows are the indexed rows exactly, so scores keep their exact meaning.
        got_ids, got = col.vectors()
        assert np.array_equal(got, exact.vectors[[exact.row_of(i) for i in got_ids]])
        q = rng.standard_normal(DIM).astype(np.float32)
        want = {exact.ids[s.row]: s.score for s in exact.search(q, 5)}
        for hit in col.search(q, k=5):
            if hit.id in want:
                assert hit.score == pytest.approx(want[hit.id], abs=1e-5)
        # A selective filter goes to the exact path over gathered rows: exact answer.
        rare = [h.id for h in col.search(q, k=3, filter={"rare": 1})]
        assert rare == [exact.ids[s.row] for s in exact.search(q, 3, np.array([m["rare"] == 1 for m in metas]))]
        assert len(col.search_mmr(q, k=4, fetch_k=20)) == 4
        # Deleting while released moves no vectors; adding brings the matrix back, then it is released again.
        col.search(q, k=1)
        index = col._mirror.index
        col.delete(["r5", "r6"])
        assert col._mirror.index is index and index.released
        assert {"r5", "r6"}.isdisjoint(h.id for h in col.search(vectors[5], k=10))
        fresh = rng.standard_normal((3, DIM)).astype(np.float32)
        col.add(vectors=fresh, ids=["n0", "n1", "n2"])
        assert col._mirror.index is index and not index.released
        assert col.search(fresh[1], k=1)[0].id == "n1"
        assert col._mirror.index is index and index.released
        got_ids, got = col.vectors()
        exact.remove(["r5", "r6"])
        exact.upsert(["n0", "n1", "n2"], fresh.copy())
        assert sorted(got_ids) == sorted(exact.ids)
        assert np.array_equal(got, exact.vectors[[exact.row_of(i) for i in got_ids]])


def test_links_per_element_are_chosen_by_size_when_the_graph_is_first_built(monkeypatch: pytest.MonkeyPatch) -> None:
    from vecvault.search import graph as ann

    rng = np.random.default_rng(8)
    for large_at, want_m in ((10**9, ann.DEFAULT_M), (100, 32)):
        monkeypatch.setattr(ann, "LARGE_GRAPH", large_at)
        source = VectorIndex(DIM, "cosine")
        graph = HnswIndex(DIM, "cosine")
        graph.attach(source)
        source.upsert([f"r{i}" for i in range(300)], rng.standard_normal((300, DIM)).astype(np.float32))
        graph.catch_up(progress=False)
        assert graph.m == want_m
        assert HnswIndex.from_bytes(graph.to_bytes(), source).m == want_m  # kept by the stored graph
    assert HnswIndex(DIM, "cosine", m=8).m == 8


def test_mmr_in_hnsw_mode_picks_among_the_graphs_candidates_without_a_full_gather(
    vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list]
) -> None:
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    with Vault.open(path, key=key) as vault:
        exact_top = _exact_ids(vault, vectors[7], 20)
        col = vault.collection("c", index="hnsw")
        col.search(vectors[0], k=1)
        index = col._mirror.index
        assert index is not None and index.released
        assert col._graphs.graph is not None
        gathered: list[int] = []
        real_gather = col._graphs.graph.gather

        def counting_gather(rows: np.ndarray) -> np.ndarray:
            gathered.append(len(rows))
            return real_gather(rows)

        index.release_vectors(counting_gather)
        picked = col.search_mmr(vectors[7], k=5, fetch_k=20, lambda_mult=0.5)
        assert len(picked) == 5 and picked[0].id == "r7"
        assert {h.id for h in picked} <= set(exact_top)  # the graph finds the exact top 20 here
        assert gathered and max(gathered) <= 20  # only the candidates' vectors, never the whole collection
        assert col.search_mmr(vectors[7], k=5, fetch_k=20, lambda_mult=1.0)[0].id == "r7"
        # Switching the collection to exact search brings the matrix back once, not a gather per query.
        vault.collection("c", index="exact").search(vectors[3], k=2)
        assert not index.released


def _update_50(path: Path, key: bytes, vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Move 50 records far from where the stored graph has them (too few changes to save a new graph)."""
    ids = [f"r{i}" for i in range(0, 500, 10)]
    moved = np.random.default_rng(99).standard_normal((50, DIM)).astype(np.float32) * 3
    with Vault.open(path, key=key) as vault:
        vault.collection("c", index="hnsw").add(vectors=moved, ids=ids)
    return ids, moved


def _sql(path: Path, key: bytes, statement: str, params: tuple[object, ...] = ()) -> None:
    from vecvault import crypto
    from vecvault.storage import Storage

    storage = Storage.open(str(path), file_key=crypto.derive_file_key(key))
    try:
        with storage.transaction():
            storage.query(statement, params)
    finally:
        storage.close()


def _own_top1(path: Path, key: bytes, ids: list[str], moved: np.ndarray) -> int:
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", index="hnsw")
        return sum(col.search(q, k=1)[0].id == rid for rid, q in zip(ids, moved, strict=True))


def test_lowered_record_revs_never_hide_updated_records_from_the_graph(
    vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list]
) -> None:
    # The report: the reload of a stored graph trusted the plaintext rev column to find what changed since
    # the graph was saved; lowering it for 50 updated records dropped 26 of them out of their own top-1.
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    with Vault.open(path, key=key) as vault:
        graph_rev = vault.core.storage.load_ann("c")[0][2]
    ids, moved = _update_50(path, key, vectors)
    marks = ",".join("?" * len(ids))
    _sql(path, key, f"UPDATE vv_records SET rev = ? WHERE collection = 'c' AND id IN ({marks})", (graph_rev, *ids))
    try:
        found = _own_top1(path, key, ids, moved)
    except IntegrityError:
        return  # tampering detected: the lowered revs no longer open the records' fields
    assert found == 50


def test_a_lowered_collection_revision_never_makes_a_stale_graph_current(
    vault_path: tuple[Path, bytes], data: tuple[np.ndarray, list]
) -> None:
    # The reopen fast path took the stored graph as current when its revision equalled the plaintext
    # collection counter; put back to the graph's revision, it hid the 50 updates from the graph.
    path, key = vault_path
    vectors, metas = data
    _fill(path, key, vectors, metas)
    with Vault.open(path, key=key) as vault:
        graph_rev = vault.core.storage.load_ann("c")[0][2]
    ids, moved = _update_50(path, key, vectors)
    _sql(path, key, "UPDATE vv_collections SET rev = ? WHERE name = 'c'", (graph_rev,))
    assert _own_top1(path, key, ids, moved) == 50
    # Later writes still get versions above every stored record's.
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", index="hnsw")
        col.add(vectors=vectors[:1] * -1, ids=["late"])
        revs = dict(vault.core.storage.query("SELECT id, rev FROM vv_records WHERE collection = 'c'"))
        assert revs["late"] > max(rev for rid, rev in revs.items() if rid != "late")


def _small_graph(path: Path, key: bytes, n: int = 300) -> np.ndarray:
    vectors = np.random.default_rng(4).standard_normal((n, DIM)).astype(np.float32)
    with Vault.open(path, key=key) as vault:
        col = vault.collection("c", dim=DIM, index="hnsw")
        col.add(vectors=vectors, ids=[f"r{i}" for i in range(n)])
        col.search(vectors[0], k=1)  # no graph stored yet: this one is saved
        assert vault.core.storage.has_ann("c")
    return vectors


def _reopen_uses_stored_graph(path: Path, key: bytes, q: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether a fresh open searches through the stored graph (fast path) rather than a rebuild."""
    from vecvault.search.hnsw import GraphKeeper

    taken: list[bool] = []
    real = GraphKeeper.load_with_stored_graph

    def spy(self: GraphKeeper, *args: object, **kwargs: object) -> object:
        loaded = real(self, *args, **kwargs)  # type: ignore[arg-type]
        taken.append(loaded is not None)
        return loaded

    monkeypatch.setattr(GraphKeeper, "load_with_stored_graph", spy)
    try:
        with Vault.open(path, key=key) as vault:
            assert vault.collection("c", index="hnsw").search(q, k=1)
    finally:
        monkeypatch.setattr(GraphKeeper, "load_with_stored_graph", real)
    return taken == [True]


def test_rotation_removes_the_graph_sealed_under_the_destroyed_key(
    vault_path: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The report: a graph sealed under a destroyed key stayed in vv_ann, and a small collection (too few
    # changes to save a new graph while one is stored) rebuilt its graph on every start.
    path, key = vault_path
    vectors = _small_graph(path, key)
    with Vault.open(path, key=key) as vault:
        sealed_under = {row[3] for row in vault.core.storage.load_ann("c")}
        (report,) = vault.rotate_data_keys("c")
        assert sealed_under <= set(report.destroyed)
        assert vault.core.storage.load_ann("c") == []
    assert not _reopen_uses_stored_graph(path, key, vectors[1], monkeypatch)  # rebuilt once, and saved
    assert _reopen_uses_stored_graph(path, key, vectors[2], monkeypatch)
    with Vault.open(path, key=key) as vault:
        assert {row[3] for row in vault.core.storage.load_ann("c")} == {vault.core.keys.keyset.primary("c").key_id}


def test_a_graph_that_does_not_open_is_replaced_not_retried_on_every_start(
    vault_path: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, key = vault_path
    vectors = _small_graph(path, key)
    with Vault.open(path, key=key) as vault:
        chunk, *_, blob = vault.core.storage.load_ann("c")[0]
    flipped = blob[:40] + bytes([blob[40] ^ 1]) + blob[41:]
    _sql(path, key, "UPDATE vv_ann SET blob = ? WHERE chunk = ?", (flipped, chunk))
    assert not _reopen_uses_stored_graph(path, key, vectors[1], monkeypatch)
    assert _reopen_uses_stored_graph(path, key, vectors[2], monkeypatch)


def test_shred_leaves_no_stored_graph(vault_path: tuple[Path, bytes]) -> None:
    path, key = vault_path
    _small_graph(path, key)
    with Vault.open(path, key=key) as vault:
        vault.shred("c")
        assert vault.core.storage.load_ann("c") == []
