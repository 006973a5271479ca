"""Search through the vault: filtered exact top-k against a brute-force reference, MMR, freshness."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecvault import UnsupportedFilterError, Vault
from vecvault.filters import evaluate, parse_filter
from vecvault.index import maximal_marginal_relevance

ROOT = Path(__file__).resolve().parents[3]
COLORS = ["red", "green", "blue", None]


def _random_metadata(rng: random.Random, i: int) -> dict[str, Any]:
    md: dict[str, Any] = {"i": i}
    if rng.random() < 0.9:
        md["color"] = rng.choice(COLORS)
    if rng.random() < 0.8:
        md["size"] = rng.choice([1, 2, 3, 2.5, "big", True])
    if rng.random() < 0.7:
        md["tags"] = rng.sample(["a", "b", "c", "d"], rng.randint(0, 3))
    if rng.random() < 0.5:
        md["title"] = rng.choice(["Alpha beta", "gamma", "Beta Gamma", ""])
    return md


FILTERS: list[dict[str, Any]] = [
    {"color": "red"},
    {"color": {"$ne": "red"}},
    {"size": {"$gt": 1}},
    {"size": {"$gte": 2, "$lt": 3}},
    {"size": {"$in": [1, "big"]}},
    {"size": {"$nin": [1, 2]}},
    {"tags": {"$contains": "a"}},
    {"title": {"$like": "%eta%"}},
    {"title": {"$ilike": "beta%"}},
    {"color": {"$exists": False}},
    {"$or": [{"color": "blue"}, {"size": {"$lte": 1}}]},
    {"$and": [{"color": {"$in": ["red", "green"]}}, {"$not": {"tags": {"$contains": "b"}}}]},
    {"color": "green", "size": 3},
    {"i": {"$lt": 3}},
    {"i": -1},
]


@pytest.fixture
def populated(vault: Vault) -> tuple[Vault, list[str], np.ndarray, list[dict[str, Any]]]:
    rng = random.Random(11)
    nrng = np.random.default_rng(11)
    n = 400
    vectors = nrng.normal(size=(n, 6)).astype(np.float32)
    metadatas = [_random_metadata(rng, i) for i in range(n)]
    ids = [f"r{i}" for i in range(n)]
    texts = [f"text {i}" for i in range(n)]
    vault.collection("c", dim=6).add(texts=texts, vectors=vectors, metadatas=metadatas, ids=ids)
    return vault, ids, vectors, metadatas


@pytest.mark.parametrize("flt", FILTERS, ids=[str(f) for f in FILTERS])
def test_filtered_search_equals_brute_force(populated: Any, flt: dict[str, Any]) -> None:
    vault, ids, vectors, metadatas = populated
    col = vault.collection("c")
    parsed = parse_filter(flt)
    assert parsed is not None
    matching = [i for i, md in enumerate(metadatas) if evaluate(parsed, md)]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for q in np.random.default_rng(5).normal(size=(3, 6)).astype(np.float32):
        scores = unit @ (q / np.linalg.norm(q))
        expected = sorted(matching, key=lambda i: -scores[i])[:10]
        hits = col.search(q, k=10, filter=flt)
        assert len(hits) == min(10, len(matching)), "k hits whenever k records match"
        assert [h.id for h in hits] == [ids[i] for i in expected]
    assert sorted(r.id for r in col.get(filter=flt)) == sorted(ids[i] for i in matching)


def test_filter_delete_removes_exactly_the_matches(populated: Any) -> None:
    vault, ids, _, metadatas = populated
    col = vault.collection("c")
    flt = {"color": "red"}
    parsed = parse_filter(flt)
    assert parsed is not None
    red = {ids[i] for i, md in enumerate(metadatas) if evaluate(parsed, md)}
    assert col.delete(filter=flt) == len(red)
    assert set(col.ids()) == set(ids) - red
    assert col.search(np.ones(6), k=500, filter=flt) == []


def test_unknown_operator_and_malformed_filters_raise(populated: Any) -> None:
    col = populated[0].collection("c")
    with pytest.raises(UnsupportedFilterError, match="Expected one of"):
        col.search(np.ones(6), k=1, filter={"color": {"$regex": "r.*"}})
    with pytest.raises(UnsupportedFilterError):
        col.search(np.ones(6), k=1, filter={"$and": 3})
    with pytest.raises(UnsupportedFilterError):
        col.delete(filter={"$or": []})
    assert col.count() == 400


def test_mmr_matches_reference_and_respects_filters(populated: Any) -> None:
    vault, ids, vectors, _metadatas = populated
    col = vault.collection("c")
    q = vectors[3] + 0.01
    hits = col.search_mmr(q, k=5, fetch_k=20, lambda_mult=0.3)
    top = col.search(q, k=20)
    cand = np.stack([vectors[ids.index(h.id)] for h in top])
    expected = [top[i].id for i in maximal_marginal_relevance(q, cand, k=5, lambda_mult=0.3)]
    assert [h.id for h in hits] == expected
    assert col.search_mmr(q, k=5, fetch_k=20, lambda_mult=1.0)[0].id == top[0].id
    filtered = col.search_mmr(q, k=5, fetch_k=20, filter={"color": "blue"})
    assert filtered and all(h.metadata.get("color") == "blue" for h in filtered)


_WRITER = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{core!r}]
    from vecvault import Vault
    path, key_hex, action = sys.argv[1], sys.argv[2], sys.argv[3]
    with Vault.open(path, key=bytes.fromhex(key_hex)) as vault:
        col = vault.collection("c", dim=2)
        if action == "add":
            col.add(texts=["from another process"], vectors=[[0.0, 1.0]], metadatas=[{{"p": 2}}], ids=["other"])
        elif action == "delete":
            col.delete(ids=["mine"])
        elif action == "clear":
            col.clear()
    """
)


def _in_other_process(path: Path, key: bytes, action: str) -> None:
    subprocess.run(
        [sys.executable, "-c", _WRITER.format(core=str(ROOT / "core")), str(path), key.hex(), action],
        check=True,
        timeout=60,
    )


@pytest.mark.multiprocess
def test_writes_by_another_process_are_seen_by_the_next_query(
    open_vault: Callable[..., Vault], vault_path: Path, master_key: bytes
) -> None:
    col = open_vault().collection("c", dim=2)
    col.add(texts=["mine"], vectors=[[1.0, 0.0]], metadatas=[{"p": 1}], ids=["mine"])
    assert [h.id for h in col.search([0.0, 1.0], k=5)] == ["mine"]
    assert [h.id for h in col.search([0.0, 1.0], k=5, filter={"p": 1})] == ["mine"]
    _in_other_process(vault_path, master_key, "add")
    assert [h.id for h in col.search([0.0, 1.0], k=5)] == ["other", "mine"]
    assert [h.id for h in col.search([0.0, 1.0], k=5, filter={"p": 2})] == ["other"]
    _in_other_process(vault_path, master_key, "delete")
    assert [h.id for h in col.search([0.0, 1.0], k=5)] == ["other"]
    assert col.search([0.0, 1.0], k=5, filter={"p": 1}) == []
    _in_other_process(vault_path, master_key, "clear")
    assert col.search([0.0, 1.0], k=5) == []
    col.add(texts=["again"], vectors=[[1.0, 0.0]], ids=["again"])
    assert [h.id for h in col.search([1.0, 0.0], k=5)] == ["again"]


def test_two_connections_in_one_process_stay_fresh(open_vault: Callable[..., Vault]) -> None:
    a = open_vault().collection("c", dim=2)
    b = open_vault().collection("c", dim=2)
    a.add(texts=["x"], vectors=[[1.0, 0.0]], ids=["x"])
    assert [h.id for h in b.search([1.0, 0.0], k=3)] == ["x"]
    b.add(texts=["y"], vectors=[[0.9, 0.1]], ids=["y"])
    a.add(texts=["z"], vectors=[[0.0, 1.0]], ids=["z"])  # a's index was stale before this write
    assert [h.id for h in a.search([1.0, 0.0], k=3)] == ["x", "y", "z"]
    b.delete(ids=["x"])
    assert [h.id for h in a.search([1.0, 0.0], k=3)] == ["y", "z"]
