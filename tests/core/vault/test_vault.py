"""The Vault / Collection API on real libSQL files: round trips, exact search, bad input, reopening."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vecvault import (
    ConfigurationError,
    IntegrityError,
    KeyNotFoundError,
    NotAVaultError,
    SchemaVersionError,
    StorageError,
    Vault,
    WrongKeyError,
)
from vecvault.keys import EnvKeyProvider, StaticKeyProvider
from vecvault.records import (
    MAX_METADATA_DEPTH,
    check_metadata,
    check_metadatas,
    decode_metadata,
    encode_metadata,
)
from vecvault.storage import SCHEMA_VERSION


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_add_search_get_delete_round_trip(vault: Vault) -> None:
    col = vault.collection("notes", dim=3)
    ids = col.add(
        texts=["alpha", "beta", "gamma"],
        vectors=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        metadatas=[{"n": 1}, None, {"nested": {"l": [1, "x", None, 2.5, True]}}],
        ids=["a", "b", "c"],
    )
    assert ids == ["a", "b", "c"]
    assert col.count() == 3
    hits = col.search([0.9, 0.1, 0], k=2)
    assert [h.id for h in hits] == ["a", "b"]
    assert hits[0].text == "alpha" and hits[0].metadata == {"n": 1}
    assert hits[0].score > hits[1].score
    assert 0.0 <= hits[1].relevance <= hits[0].relevance <= 1.0
    records = col.get(["c", "missing", "a"])
    assert [r.id for r in records] == ["c", "a"]
    assert records[0].metadata == {"nested": {"l": [1, "x", None, 2.5, True]}}
    assert records[1].vector is not None and records[1].vector.tolist() == [1.0, 0.0, 0.0]
    assert col.delete(ids=["a", "unknown"]) == 1
    assert col.count() == 2
    assert [h.id for h in col.search([1, 0, 0], k=5)] == ["b", "c"] or len(col.search([1, 0, 0], k=5)) == 2
    assert vault.collections() == ["notes"]


def test_generated_ids_are_random_hex(vault: Vault) -> None:
    col = vault.collection("c", dim=2)
    ids = col.add(texts=["x", "y"], vectors=[[1, 0], [0, 1]])
    assert len(set(ids)) == 2 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    many = col.add(vectors=np.ones((2000, 2)))
    assert len(set(many)) == 2000
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).hex == i for i in many)


def test_a_new_vault_file_uses_16_kib_pages(vault: Vault) -> None:
    # ~2.2 KB sealed records: 4 KiB pages would hold one each and waste the rest.
    vault.collection("c", dim=2).add(texts=["x"], vectors=[[1, 0]])
    assert vault.core.storage.query("PRAGMA page_size") == [(16384,)]


def test_upsert_replaces_text_vector_and_metadata(vault: Vault) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["old"], vectors=[[1, 0]], metadatas=[{"v": 1}], ids=["x"])
    col.add(texts=["new"], vectors=[[0, 1]], metadatas=[{"v": 2}], ids=["x"])
    assert col.count() == 1
    (record,) = col.get(["x"])
    assert (record.text, record.metadata) == ("new", {"v": 2})
    assert col.search([0, 1], k=1)[0].id == "x"
    assert col.search([0, 1], k=1)[0].score == pytest.approx(1.0)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_search_is_numpy_brute_force_exactly(vault: Vault, metric: str) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    col = vault.collection("c", dim=8, metric=metric)
    ids = col.add(texts=[str(i) for i in range(300)], vectors=x, ids=[str(i) for i in range(300)])
    for _ in range(20):
        q = rng.normal(size=8).astype(np.float32)
        if metric == "cosine":
            xn = x / np.linalg.norm(x, axis=1, keepdims=True)
            s = xn @ (q / np.linalg.norm(q))
        elif metric == "dot":
            s = x @ q
        else:
            s = -np.linalg.norm(x - q, axis=1)
        expected = [ids[i] for i in np.argsort(-s, kind="stable")[:10]]
        hits = col.search(q, k=10)
        assert [h.id for h in hits] == expected
        assert all(0.0 <= h.relevance <= 1.0 for h in hits)
        assert [h.relevance for h in hits] == sorted((h.relevance for h in hits), reverse=True)


def test_k_larger_than_collection_returns_everything(vault: Vault) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["a", "b"], vectors=[[1, 0], [0, 1]])
    assert len(col.search([1, 0], k=50)) == 2


def test_empty_collection_and_unknown_dim(vault: Vault) -> None:
    col = vault.collection("later")
    assert col.dim is None
    assert col.search([1.0, 2.0], k=3) == []
    assert col.get(["x"]) == [] and col.count() == 0
    col.add(texts=["t"], vectors=[[1.0, 2.0, 3.0]])
    assert col.dim == 3
    assert vault.collection("later", dim=3).count() == 1


def test_empty_batch_is_a_no_op(vault: Vault) -> None:
    col = vault.collection("c", dim=2)
    assert col.add(texts=[], vectors=[]) == []
    assert col.add(texts=[], vectors=np.empty((0, 2), dtype=np.float32)) == []
    assert col.count() == 0


def _json_metadata(integers: st.SearchStrategy[int]) -> st.SearchStrategy[dict[str, Any]]:
    """Metadata dicts of every JSON type, nested, with ``integers`` for the ints."""
    finite_floats = st.floats(allow_nan=False, allow_infinity=False)
    scalars = st.none() | st.booleans() | integers | finite_floats | st.text(max_size=20)
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=10,
    )
    return st.dictionaries(st.text(max_size=8), values, max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    metadata=_json_metadata(st.integers(-(2**63), 2**63 - 1)),
    text=st.text(max_size=200),
)
def test_metadata_and_text_round_trip_exactly(vault: Vault, metadata: dict[str, Any], text: str) -> None:
    col = vault.collection("rt", dim=2)
    col.add(texts=[text], vectors=[[0.5, 0.5]], metadatas=[metadata], ids=["r"])
    (record,) = col.get(["r"])
    assert record.text == text
    assert record.metadata == metadata
    assert _same_json_types(record.metadata, metadata)


@settings(max_examples=200, deadline=None)
@given(metadata=_json_metadata(st.integers(-(2**70), 2**70)))
def test_metadata_encoding_is_the_json_modules_compact_encoding(metadata: dict[str, Any]) -> None:
    expected = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    assert encode_metadata(check_metadata(metadata)) == expected


def test_batch_metadata_check_matches_the_one_by_one_check() -> None:
    flat = {"topic": "t1", "n": 3, "ok": True, "none": None}
    batch = [flat, {"f": 1.5}, {"nested": {"a": [1, 2]}}, None]
    checked = check_metadatas(batch)
    assert checked == [check_metadata(m) for m in batch]
    assert checked[0] is not flat  # a copy: later changes by the caller do not reach the index
    with pytest.raises(ConfigurationError, match=r"metadatas\[1\]\['x'\] is nan"):
        check_metadatas([flat, {"x": float("nan")}])
    with pytest.raises(ConfigurationError, match=r"metadatas\[0\] has the key 1"):
        check_metadatas([{1: "a"}])
    with pytest.raises(ConfigurationError, match=r"metadatas\[1\] must be a dict"):
        check_metadatas([flat, ["a"]])


def test_metadata_encoding_refuses_what_json_cannot_store() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        encode_metadata({"x": [float("nan")]})  # check_metadata refuses it first; the encoder fails closed too
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode_metadata({"x": {1, 2}})


def _nested_metadata(depth: int, kind: str) -> dict[str, Any]:
    """``{"deep": value}`` where value nests ``depth`` dicts or lists."""
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value} if kind == "dict" else [value]
    return {"deep": value}


@pytest.mark.parametrize("kind", ["dict", "list"])
@pytest.mark.parametrize("depth", [MAX_METADATA_DEPTH + 1, 400, 5000])
def test_deeply_nested_metadata_is_refused(vault: Vault, kind: str, depth: int) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["keep"], vectors=[[1.0, 0.0]], ids=["keep"])
    metadata = _nested_metadata(depth, kind)
    with pytest.raises(ConfigurationError, match=rf"more than {MAX_METADATA_DEPTH} levels.*MAX_METADATA_DEPTH"):
        col.add(texts=["x"], vectors=[[0.0, 1.0]], metadatas=[metadata])
    with pytest.raises(ConfigurationError, match=r"metadatas\[1\]\['deep'\]"):
        col.add(texts=["x", "y"], vectors=[[0.0, 1.0], [0.0, 1.0]], metadatas=[{}, metadata])
    assert col.ids() == ["keep"]


def test_metadata_that_contains_itself_is_refused(vault: Vault) -> None:
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    col = vault.collection("c", dim=2)
    with pytest.raises(ConfigurationError, match="contains itself"):
        col.add(texts=["x"], vectors=[[0.0, 1.0]], metadatas=[loop])
    assert col.count() == 0


@pytest.mark.parametrize("kind", ["dict", "list"])
def test_metadata_at_the_depth_limit_round_trips(vault: Vault, kind: str) -> None:
    metadata = _nested_metadata(MAX_METADATA_DEPTH, kind)
    col = vault.collection("c", dim=2)
    col.add(texts=["x"], vectors=[[0.0, 1.0]], metadatas=[metadata], ids=["x"])
    assert col.get(["x"])[0].metadata == metadata
    assert [h.id for h in col.search([0.0, 1.0], k=1, filter={"deep": {"$eq": metadata["deep"]}})] == ["x"]


def test_metadata_too_deep_to_decode_is_an_integrity_error() -> None:
    """Our writer never nests past the limit, so a blob that does is damage, not a RecursionError."""
    for blob in (b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"a":' + b'{"k":' * 5000 + b"1" + b"}" * 5001):
        with pytest.raises(IntegrityError, match="damaged"):
            decode_metadata(blob)
    assert decode_metadata(encode_metadata(_nested_metadata(MAX_METADATA_DEPTH, "list"))) == _nested_metadata(
        MAX_METADATA_DEPTH, "list"
    )


def _same_json_types(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_json_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_json_types(x, y) for x, y in zip(a, b, strict=True))
    return True


# -- reopening --------------------------------------------------------------------------------------------


def test_reopen_keeps_everything(open_vault: Callable[..., Vault]) -> None:
    rng = np.random.default_rng(1)
    x = _unit(rng, 50, 4)
    vault = open_vault()
    vault.collection("c", dim=4).add(texts=[f"t{i}" for i in range(50)], vectors=x, ids=[str(i) for i in range(50)])
    vault.close()
    again = open_vault()
    col = again.collection("c")
    assert (col.dim, col.metric, col.count()) == (4, "cosine", 50)
    assert col.search(x[7], k=1)[0].id == "7"


def test_dimension_and_metric_mismatch_raise_at_the_call(vault: Vault) -> None:
    vault.collection("c", dim=4)
    with pytest.raises(ConfigurationError, match="dimension 4"):
        vault.collection("c", dim=5)
    with pytest.raises(ConfigurationError, match="metric"):
        vault.collection("c", dim=4, metric="euclidean")
    vault.collection("m", dim=2, model="model-a")
    with pytest.raises(ConfigurationError, match="model-a"):
        vault.collection("m", dim=2, model="model-b")


def test_unknown_metric_and_mode(vault: Vault) -> None:
    with pytest.raises(ConfigurationError, match="Expected one of"):
        vault.collection("c", dim=2, metric="hamming")
    with pytest.raises(ConfigurationError, match="Expected one of"):
        vault.collection("c", dim=2, vectors="clear")


# -- bad input: a typed error, and nothing stored ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"texts": ["a"], "vectors": [[1.0, 2.0, 3.0]]}, "dimension 3"),
        ({"texts": ["a"], "vectors": [[float("nan"), 1.0]]}, "NaN"),
        ({"texts": ["a"], "vectors": [[float("inf"), 1.0]]}, "NaN or infinity"),
        ({"texts": ["a"], "vectors": [[1e39, 1.0]]}, "NaN or infinity"),
        ({"texts": ["a", "b"], "vectors": [[1.0, 2.0]]}, "1 vectors for 2 texts"),
        ({"texts": ["a", "b"], "vectors": [[1.0, 2.0], [1.0, 2.0]], "ids": ["x", "x"]}, "appears twice"),
        ({"texts": ["a"], "vectors": [[1.0, 2.0]], "metadatas": [{"d": object()}]}, "JSON cannot store"),
        ({"texts": ["a"], "vectors": [[1.0, 2.0]], "metadatas": [{"d": float("nan")}]}, "NaN"),
        ({"texts": ["a"], "vectors": [[1.0, 2.0]], "metadatas": [{1: "x"}]}, "keys must be strings"),
        ({"texts": ["a"], "vectors": [[1.0, 2.0]], "ids": [7]}, "must be strings"),
        ({"texts": ["a"], "vectors": [[1.0, 2.0]], "ids": [""]}, "non-empty"),
        ({"texts": ["a"], "vectors": [[1.0, 2.0]], "ids": "a"}, "not one string"),
        ({"texts": "a", "vectors": [[1.0, 2.0]]}, "not one string"),
        ({"texts": [3], "vectors": [[1.0, 2.0]]}, "must be strings"),
        ({"texts": ["a"], "vectors": [1.0, 2.0]}, "2-D"),
        ({"texts": ["a"], "vectors": [["x", "y"]]}, "2-D numpy array"),
        ({"texts": ["a"], "vectors": [[1.0, 2.0]], "metadatas": [{"a": 1}, {"b": 2}]}, "2 metadatas"),
        ({"texts": ["a"], "vectors": None}, "needs vectors"),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(vault: Vault, kwargs: dict[str, Any], match: str) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["keep"], vectors=[[1.0, 0.0]], ids=["keep"])
    with pytest.raises(ConfigurationError, match=match):
        col.add(**kwargs)
    assert col.ids() == ["keep"]
    assert [h.id for h in col.search([1.0, 0.0], k=5)] == ["keep"]


@pytest.mark.parametrize(
    ("query", "k", "match"),
    [
        ([1.0, 2.0, 3.0], 1, "dimension"),
        ([float("nan"), 0.0], 1, "NaN"),
        ([1.0, 0.0], 0, "positive"),
        ([1.0, 0.0], -1, "positive"),
        ([1.0, 0.0], True, "positive"),
    ],
)
def test_bad_queries(vault: Vault, query: list[float], k: Any, match: str) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["a"], vectors=[[1.0, 0.0]])
    with pytest.raises(ConfigurationError, match=match):
        col.search(query, k=k)


def test_bad_mmr_arguments(vault: Vault) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["a"], vectors=[[1.0, 0.0]])
    with pytest.raises(ConfigurationError, match="fetch_k"):
        col.search_mmr([1.0, 0.0], k=5, fetch_k=2)
    with pytest.raises(ConfigurationError, match="lambda_mult"):
        col.search_mmr([1.0, 0.0], k=1, lambda_mult=1.5)


def test_wrong_key_is_a_clean_typed_error(open_vault: Callable[..., Vault]) -> None:
    open_vault().collection("c", dim=2).add(texts=["a"], vectors=[[1.0, 0.0]])
    for file_encryption in (None,):
        with pytest.raises(WrongKeyError):
            open_vault(key=StaticKeyProvider(os.urandom(32)), file_encryption=file_encryption)


def test_wrong_key_without_file_encryption(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "plain.db"
    with Vault.open(path, key=master_key, file_encryption=False) as vault:
        vault.collection("c", dim=2).add(texts=["a"], vectors=[[1.0, 0.0]])
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    with pytest.raises(WrongKeyError):
        Vault.open(path, key=os.urandom(32))


def test_missing_key_for_an_existing_vault_never_creates_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, master_key: bytes
) -> None:
    path = tmp_path / "v.db"
    Vault.open(path, key=master_key).close()
    monkeypatch.delenv("VECVAULT_TEST_KEY", raising=False)
    with pytest.raises(KeyNotFoundError):
        Vault.open(path, key=EnvKeyProvider("VECVAULT_TEST_KEY"))


def test_a_file_that_is_not_a_vault(tmp_path: Path, master_key: bytes) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello, this is not a database\n" * 10)
    with pytest.raises((NotAVaultError, WrongKeyError)):
        Vault.open(text_file, key=master_key)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(NotAVaultError, match="not a vecvault vault"):
        Vault.open(other, key=master_key)
    assert text_file.read_text().startswith("hello")  # untouched


def test_a_vault_from_a_newer_schema(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "v.db"
    Vault.open(path, key=master_key, file_encryption=False).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE vv_meta SET value = ? WHERE key = 'schema_version'", (b"99",))
    con.commit()
    con.close()
    with pytest.raises(SchemaVersionError, match="upgrade"):
        Vault.open(path, key=master_key)


def test_a_corrupted_file(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key) as vault:
        vault.collection("c", dim=2).add(texts=["a"] * 50, vectors=[[1.0, 0.0]] * 50)
    data = bytearray(path.read_bytes())
    for i in range(0, len(data), 7):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises((StorageError, WrongKeyError, IntegrityError)), Vault.open(path, key=master_key) as vault:
        vault.collection("c").search([1.0, 0.0], k=1)


def test_a_tampered_sealed_field_raises_integrity_error(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key, file_encryption=False) as vault:
        vault.collection("c", dim=2).add(texts=["secret"], vectors=[[1.0, 0.0]], ids=["x"])
    con = sqlite3.connect(path)
    (blob,) = con.execute("SELECT text FROM vv_records WHERE id = 'x'").fetchone()
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    con.execute("UPDATE vv_records SET text = ? WHERE id = 'x'", (bytes(flipped),))
    con.commit()
    con.close()
    with Vault.open(path, key=master_key) as vault:
        col = vault.collection("c")
        with pytest.raises(IntegrityError):
            col.get(["x"])
        with pytest.raises(IntegrityError):
            col.search([1.0, 0.0], k=1)


def test_swapped_fields_between_records_are_rejected(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key, file_encryption=False) as vault:
        vault.collection("c", dim=2).add(texts=["one", "two"], vectors=[[1.0, 0.0], [0.0, 1.0]], ids=["a", "b"])
    con = sqlite3.connect(path)
    a = con.execute("SELECT metadata FROM vv_records WHERE id = 'a'").fetchone()[0]
    con.execute("UPDATE vv_records SET metadata = ? WHERE id = 'b'", (a,))
    con.commit()
    con.close()
    with Vault.open(path, key=master_key) as vault:
        col = vault.collection("c")
        assert col.get(["a"])[0].metadata == {}
        with pytest.raises(IntegrityError):
            col.get(["b"])


def _put_back(path: Path, record_id: str, saved: dict[str, Any]) -> None:
    """Write saved column values of one record back into the file, as someone holding it could."""
    con = sqlite3.connect(path)
    sets = ", ".join(f"{column} = ?" for column in saved)
    con.execute(f"UPDATE vv_records SET {sets} WHERE id = ?", (*saved.values(), record_id))
    con.commit()
    con.close()


def _columns(path: Path, record_id: str, columns: str) -> dict[str, Any]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    row = con.execute(f"SELECT {columns} FROM vv_records WHERE id = ?", (record_id,)).fetchone()
    con.close()
    return dict(row)


def test_fields_of_two_writes_of_a_record_never_recombine(tmp_path: Path, master_key: bytes) -> None:
    # The report: write, update (new text, new metadata), put back only the old metadata blob. The vault
    # returned the new text with the old metadata (an old acl) and verify said ok.
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key, file_encryption=False) as vault:
        col = vault.collection("c", dim=2)
        col.add(texts=["draft"], vectors=[[1.0, 0.0]], metadatas=[{"acl": "public"}], ids=["x"])
        col.add(texts=["final"], vectors=[[0.0, 1.0]], metadatas=[{"acl": "private"}], ids=["y"])
    old = _columns(path, "x", "metadata, text, vector")
    with Vault.open(path, key=master_key) as vault:
        vault.collection("c").add(texts=["secret plan"], vectors=[[0.9, 0.1]], metadatas=[{"acl": "owner"}], ids=["x"])
    for field in ("metadata", "text", "vector"):
        mixed = tmp_path / f"mixed-{field}.db"
        mixed.write_bytes(path.read_bytes())
        _put_back(mixed, "x", {field: old[field]})
        with Vault.open(mixed, key=master_key) as vault:
            col = vault.collection("c")
            with pytest.raises(IntegrityError, match="'x'"):
                col.get(["x"])
            with pytest.raises(IntegrityError):
                col.search([1.0, 0.0], k=2)  # the load opens every vector, the hits their texts and metadata
            with pytest.raises(IntegrityError):
                col.search([1.0, 0.0], k=2, filter={"acl": {"$ne": "none"}})  # the load opens every metadata
            assert col.get(["y"])[0].metadata == {"acl": "private"}  # the untouched record still opens
            report = vault.verify()
            assert [(f.record_id, f.field) for f in report.failures] == [("x", field)]


def test_a_whole_record_put_back_is_the_documented_rollback_limit(tmp_path: Path, master_key: bytes) -> None:
    # Every sealed field and the plaintext columns of one earlier write, put back together, are a record
    # that was written: it opens (docs/key-management.md, "What the seals do not stop").
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key, file_encryption=False) as vault:
        vault.collection("c", dim=2).add(texts=["v1"], vectors=[[1.0, 0.0]], metadatas=[{"n": 1}], ids=["x"])
    old = _columns(path, "x", "rev, key_id, text, metadata, vector")
    with Vault.open(path, key=master_key) as vault:
        vault.collection("c").add(texts=["v2"], vectors=[[0.0, 1.0]], metadatas=[{"n": 2}], ids=["x"])
    _put_back(path, "x", old)
    with Vault.open(path, key=master_key) as vault:
        record = vault.collection("c").get(["x"])[0]
        assert (record.text, record.metadata) == ("v1", {"n": 1})
        assert vault.verify().ok


def test_file_encryption_mismatch_names_the_fix(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "v.db"
    Vault.open(path, key=master_key, file_encryption=False).close()
    with pytest.raises(ConfigurationError, match="file_encryption=None"):
        Vault.open(path, key=master_key, file_encryption=True)


def test_closed_vault_raises(vault: Vault) -> None:
    col = vault.collection("c", dim=2)
    vault.close()
    with pytest.raises(StorageError, match="closed"):
        col.count()
    vault.close()  # twice is fine


def test_drop_collection(vault: Vault) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["a"], vectors=[[1.0, 0.0]])
    assert vault.drop_collection("c") is True
    assert vault.collections() == []
    assert vault.drop_collection("c") is False
    assert vault.collection("c", dim=3).count() == 0


def test_clear_keeps_configuration(vault: Vault) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["a", "b"], vectors=[[1.0, 0.0], [0.0, 1.0]])
    col.search([1.0, 0.0], k=1)
    assert col.clear() == 2
    assert col.count() == 0 and col.search([1.0, 0.0], k=1) == []
    col.add(texts=["c"], vectors=[[1.0, 0.0]], ids=["c"])
    assert [h.id for h in col.search([1.0, 0.0], k=3)] == ["c"]


def test_memory_vault_works(master_key: bytes) -> None:
    with Vault.open(":memory:", key=master_key) as vault:
        col = vault.collection("c", dim=2)
        col.add(texts=["a"], vectors=[[1.0, 0.0]])
        assert col.search([1.0, 0.0], k=1)[0].text == "a"


def test_reprs_hold_no_text_or_key(vault: Vault, master_key: bytes) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["canary-text-123"], vectors=[[1.0, 0.0]], metadatas=[{"m": "canary-meta-456"}], ids=["x"])
    hit = col.search([1.0, 0.0], k=1)[0]
    record = col.get(["x"])[0]
    for text in (repr(vault), repr(col), repr(hit), repr(record), str(hit), str(record)):
        assert "canary" not in text
        assert master_key.hex() not in text


def test_a_wrong_key_leaves_a_file_with_a_journal_untouched(tmp_path: Path, master_key: bytes) -> None:
    # A zeroed journal is not live (SQLite ignores it); a real hot journal is covered by test_crash_rekey.py.
    path = tmp_path / "v.db"
    Vault.open(path, key=master_key).close()
    before = path.read_bytes()
    (tmp_path / "v.db-journal").write_bytes(b"\x00" * 512)
    with pytest.raises(WrongKeyError):
        Vault.open(path, key=os.urandom(32))
    assert path.read_bytes() == before


_V1_RECORDS = """CREATE TABLE vv_records (
    collection TEXT NOT NULL, id TEXT NOT NULL, rev INTEGER NOT NULL, key_id INTEGER NOT NULL,
    text BLOB NOT NULL, metadata BLOB NOT NULL, vector BLOB NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (collection, id)) WITHOUT ROWID"""


def test_a_version_1_vault_migrates_and_keeps_every_record(tmp_path: Path, master_key: bytes) -> None:
    path = tmp_path / "v.db"
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(30, 4)).astype(np.float32)
    with Vault.open(path, key=master_key, file_encryption=False) as vault:
        vault.collection("c", dim=4).add(
            texts=[f"t{i}" for i in range(30)],
            vectors=vectors,
            metadatas=[{"i": i} for i in range(30)],
            ids=[str(i) for i in range(30)],
        )
    # Rewrite the file into the version-1 layout: records WITHOUT ROWID, no vv_ann table.
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE vv_records RENAME TO vv_records_new")
    con.execute(_V1_RECORDS)
    con.execute(
        "INSERT INTO vv_records SELECT collection, id, rev, key_id, text, metadata, vector, updated_at "
        "FROM vv_records_new"
    )
    con.execute("DROP TABLE vv_records_new")
    con.execute("DROP TABLE IF EXISTS vv_ann")
    con.execute("DROP TABLE IF EXISTS vv_snapshots")
    con.execute("UPDATE vv_meta SET value = ? WHERE key = 'schema_version'", (b"1",))
    con.commit()
    con.close()
    with Vault.open(path, key=master_key) as vault:
        col = vault.collection("c")
        assert col.count() == 30
        assert col.search(vectors[4], k=1)[0].id == "4"
        assert col.get(["29"])[0].metadata == {"i": 29}
        col.add(texts=["new"], vectors=[[1.0, 0.0, 0.0, 0.0]], ids=["new"])
    con = sqlite3.connect(path)
    (sql,) = con.execute("SELECT sql FROM sqlite_master WHERE name = 'vv_records'").fetchone()
    (version,) = con.execute("SELECT value FROM vv_meta WHERE key = 'schema_version'").fetchone()
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.close()
    assert "WITHOUT ROWID" not in sql
    assert int(version) == SCHEMA_VERSION == 7
    assert "vv_snapshots" in tables  # 6 -> 7: mirror snapshots
    assert "vv_records_by_key" not in indexes and "vv_records_by_rev" in indexes  # 3 -> 4 drops the key index


def test_messages_never_show_url_credentials() -> None:
    from vecvault.storage import Storage

    storage = Storage(
        None, location="libsql://db.example.test?authToken=SECRETTOKEN", remote=True, file_encrypted=False
    )
    assert "SECRETTOKEN" not in storage.shown_location
    assert storage.shown_location == "libsql://db.example.test"


@pytest.mark.parametrize("count", [1, 31, 32, 33, 64, 70])
def test_bulk_adds_of_every_size_store_every_field(open_vault: Callable[..., Vault], count: int) -> None:
    # Local bulk adds go to libSQL in multi-row statements of 32 records, the rest one by one; both must store
    # each record's own fields, and a second add of the same ids must replace them.
    vault = open_vault()
    col = vault.collection("bulk", dim=3)
    rng = np.random.default_rng(count)
    first = rng.standard_normal((count, 3)).astype(np.float32)
    ids = [f"id-{i}" for i in range(count)]
    col.add(texts=[f"old {i}" for i in range(count)], vectors=first, metadatas=[{"v": 0}] * count, ids=ids)
    second = rng.standard_normal((count + 5, 3)).astype(np.float32)
    more_ids = [*ids, *(f"new-{i}" for i in range(5))]
    col.add(
        texts=[f"text {i}" for i in range(count + 5)],
        vectors=second,
        metadatas=[{"i": i, "id": record_id} for i, record_id in enumerate(more_ids)],
        ids=more_ids,
    )
    vault.close()
    reopened = open_vault().collection("bulk")
    assert reopened.count() == count + 5
    got = {r.id: r for r in reopened.get(more_ids, include_vectors=True)}
    for i, record_id in enumerate(more_ids):
        assert got[record_id].text == f"text {i}"
        assert got[record_id].metadata == {"i": i, "id": record_id}
        np.testing.assert_array_equal(got[record_id].vector, second[i])


def test_closing_a_vault_frees_what_its_collections_loaded(tmp_path: Path, master_key: bytes) -> None:
    """Loaded collections reference one another in cycles: close must free the opened vectors at once."""
    import gc
    import weakref

    with Vault.open(tmp_path / "v.db", key=master_key) as vault:
        col = vault.collection("c", dim=4)
        col.add(vectors=np.eye(4), ids=list("abcd"))
        col.search(np.eye(4)[0], k=1)
        index = col._mirror.index
        assert index is not None
        loaded = weakref.ref(index)
        del index
    gc.disable()  # the cyclic collector must not be what frees it
    try:
        assert loaded() is None
    finally:
        gc.enable()
