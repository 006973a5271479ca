"""Keyword (BM25) and hybrid search: the tokenizer, BM25 against a reference, filters inside, the text index
following every write, hybrid fusion against search() + search_text(), bad input, nothing at rest."""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vecvault import ConfigurationError, Vault
from vecvault.filters import evaluate, parse_filter
from vecvault.search.fusion import reciprocal_rank_fusion, relative_score_fusion, rrf_relevance
from vecvault.search.tokenize import analyzer

pytest.importorskip("tantivy")

ROOT = Path(__file__).resolve().parents[3]

CODE_TEXTS = {
    "join": "Build a path with os.path.join(base, name) instead of string concatenation.",
    "parse": "C extensions parse their arguments with PyArg_ParseTuple and a format string.",
    "snake": "PEP 8 names functions in snake_case and classes in CamelCase.",
    "dogs": "The running dogs jumped over the lazy fox in the garden.",
    "error": "The installer stops with error code E1234 when the disk is full.",
    "thread": "Wait for a worker with Thread.join() before reading its result.",
    "path": "A path names a file; the os module joins and splits paths.",
    "cafe": "Meet me at the Café on Rue Saint-Honoré.",
}


def _vec(rng: np.random.Generator, n: int, dim: int = 4) -> np.ndarray:
    return rng.standard_normal((n, dim)).astype(np.float32)


@pytest.fixture
def code(vault: Vault) -> Any:
    col = vault.collection("code", dim=4)
    ids = list(CODE_TEXTS)
    col.add(
        texts=list(CODE_TEXTS.values()),
        vectors=_vec(np.random.default_rng(0), len(ids)),
        metadatas=[{"n": i, "kind": "code" if i % 2 else "prose"} for i in range(len(ids))],
        ids=ids,
    )
    return col


def _ids(hits: list[Any]) -> list[str]:
    return [h.id for h in hits]


# -- the tokenizer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("os.path.join", "join"),
        ("PyArg_ParseTuple", "parse"),
        ("ParseTuple", "parse"),
        ("pyarg_parsetuple", "parse"),
        ("snake_case", "snake"),
        ("CamelCase", "snake"),
        ("camelcase", "snake"),
        ("E1234", "error"),
        ("e1234", "error"),
        ("Thread.join()", "thread"),
        ("run dog", "dogs"),  # stemmed: running dogs
        ("jumping", "dogs"),
        ("cafe honore", "cafe"),  # accents folded
    ],
)
def test_identifiers_words_and_stems_are_found(code: Any, query: str, first: str) -> None:
    hits = code.search_text(query, k=3)
    assert hits and hits[0].id == first


def test_an_identifier_ranks_its_exact_occurrence_above_its_parts(code: Any) -> None:
    hits = code.search_text("os.path.join", k=5)
    assert hits[0].id == "join"
    # "path" and "thread" share parts of it (path, join) and come after, with lower scores.
    assert {"path", "thread"} <= set(_ids(hits))
    assert hits[0].score > 1.5 * hits[1].score  # the phrase adds its own score


def test_quoted_phrases_are_required_and_exact(code: Any) -> None:
    assert _ids(code.search_text('"lazy fox"', k=5)) == ["dogs"]
    assert code.search_text('"fox lazy"', k=5) == []  # same words, wrong order
    assert _ids(code.search_text('"disk is full" error', k=5)) == ["error"]  # the stop word's gap is kept
    assert _ids(code.search_text('path "os module"', k=5)) == ["path"]
    assert _ids(code.search_text('unterminated "path', k=5))[0] == "path"  # a lone quote is a character


def test_analyzer_output_is_what_the_docs_say() -> None:
    tokens = [t.text for t in analyzer().pre_tokenize("PyArg_ParseTuple os.path.join the Running Café x").tokens]
    assert tokens == ["pyarg", "parsetuple", "os", "path", "join", "the", "running", "cafe", "x"]  # as written


@pytest.mark.parametrize(
    ("query", "terms", "words", "phrases"),
    [
        ("how do I join paths", (), (("join", "join"), ("paths", "path")), ()),  # stop words dropped, stemmed
        ("is_file", ("is", "file"), (), (((0, "is"), (1, "file")),)),  # kept inside an identifier, exact
        ("any()", ("any",), (), ()),  # a call is code: its stop word stays
        ("What's new in Python?", (), (("new", "new"), ("python", "python")), ()),
        ("E1234 HTTP", ("e1234",), (("http", "http"),), ()),
        ("CamelCase", ("camelcase",), (), ()),
        ("running runs", (), (("running", "run"),), ()),  # one stem, one clause
    ],
)
def test_query_parsing(query: str, terms: tuple[str, ...], words: tuple[Any, ...], phrases: tuple[Any, ...]) -> None:
    from vecvault.search.tokenize import parse_query, stemmer

    parsed = parse_query(query, analyzer(), stemmer())
    assert parsed.terms == terms
    assert parsed.words == words
    assert parsed.phrases == phrases


def test_a_word_matches_every_indexed_word_of_its_stem(vault: Vault) -> None:
    col = vault.collection("stems", dim=2)
    texts = ["we hope so", "hoping hard", "hopeful news", "studies show", "a study", "the hop count", "studio"]
    col.add(texts=texts, vectors=np.ones((len(texts), 2)), ids=[f"s{i}" for i in range(len(texts))])
    assert set(_ids(col.search_text("hopes", k=10))) == {"s0", "s1", "s2"}  # hope, hoping, hopeful; not hop
    assert set(_ids(col.search_text("studied", k=10))) == {"s3", "s4"}  # studies, study; not studio
    assert _ids(col.search_text('"hoping"', k=10)) == ["s1"]  # quoted: exact


def test_quoted_stop_words_are_a_phrase(code: Any) -> None:
    assert _ids(code.search_text('"over the lazy"', k=5)) == ["dogs"]
    assert code.search_text("over the", k=5) == []  # unquoted: only stop words


# -- BM25 against a reference ----------------------------------------------------------------------------

BM25_DOCS = [
    "apple banana apple",
    "banana cherry",
    "cherry cherry cherry date",
    "apple date elder fig grape",
    "fig",
    "banana banana banana banana apple",
]


def _bm25(query_terms: list[str], docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> list[float]:
    n = len(docs)
    avg = sum(len(d) for d in docs) / n
    out = []
    for doc in docs:
        tf = Counter(doc)
        score = 0.0
        for term in query_terms:
            df = sum(1 for d in docs if term in d)
            if not tf[term]:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf[term] * (k1 + 1) / (tf[term] + k1 * (1 - b + b * len(doc) / avg))
        out.append(score)
    return out


@pytest.mark.parametrize("query", ["apple", "banana", "cherry date", "fig grape apple", "elder"])
def test_scores_are_bm25(vault: Vault, query: str) -> None:
    col = vault.collection("bm25", dim=2)
    col.add(texts=BM25_DOCS, vectors=np.ones((len(BM25_DOCS), 2)), ids=[f"d{i}" for i in range(len(BM25_DOCS))])
    expected = _bm25(query.split(), [d.split() for d in BM25_DOCS])
    hits = col.search_text(query, k=10)
    want = sorted(((f"d{i}", s) for i, s in enumerate(expected) if s > 0), key=lambda p: -p[1])
    assert [h.id for h in hits] == [i for i, _ in want]
    for hit, (_, score) in zip(hits, want, strict=True):
        assert hit.score == pytest.approx(score, rel=1e-5)
    assert hits[0].relevance == 1.0
    for hit in hits:
        assert hit.relevance == pytest.approx(hit.score / hits[0].score)
        assert hit.distance == pytest.approx(1.0 - hit.relevance)


# -- filters inside ----------------------------------------------------------------------------------------

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


@pytest.fixture
def many(vault: Vault) -> tuple[Any, dict[str, str], dict[str, dict[str, Any]]]:
    rng = random.Random(5)
    col = vault.collection("many", dim=4)
    n = 3000
    ids = [f"m{i}" for i in range(n)]
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) for _ in range(n)]
    metas = [{"i": i, "color": rng.choice(["red", "green", "blue"]), "rare": i % 500 == 0} for i in range(n)]
    col.add(texts=texts, vectors=_vec(np.random.default_rng(5), n), metadatas=metas, ids=ids)
    return col, dict(zip(ids, texts, strict=True)), dict(zip(ids, metas, strict=True))


@pytest.mark.parametrize(
    "flt",
    [
        {"color": "red"},  # a third of the records: filtered on the results, widening
        {"rare": True},  # 6 records: restricted by key inside tantivy
        {"i": {"$lt": 40}},
        {"$and": [{"color": "blue"}, {"i": {"$gte": 2900}}]},
        {"i": -1},
    ],
)
@pytest.mark.parametrize("query", ["theta", "alpha beta", "eta zeta theta"])
def test_filtered_text_search_is_the_unfiltered_ranking_restricted(many: Any, flt: dict[str, Any], query: str) -> None:
    col, texts, metas = many
    parsed = parse_filter(flt)
    terms = set(query.split())
    matching = [i for i in texts if evaluate(parsed, metas[i]) and terms & set(texts[i].split())]
    k = 25
    hits = col.search_text(query, k=k, filter=flt)
    assert len(hits) == min(k, len(matching))  # k results whenever k records match
    assert all(evaluate(parsed, h.metadata) for h in hits)
    everything = col.search_text(query, k=len(texts))
    allowed = set(matching)
    reference = [h for h in everything if h.id in allowed][:k]
    assert [h.score for h in hits] == pytest.approx([h.score for h in reference], rel=1e-6)
    assert set(_ids(hits)) <= allowed


# -- following every write -----------------------------------------------------------------------------------


def test_the_text_index_follows_add_upsert_delete_and_clear(code: Any) -> None:
    rng = np.random.default_rng(1)
    assert _ids(code.search_text("E1234")) == ["error"]
    code.add(texts=["E1234 again, in a new record"], vectors=_vec(rng, 1), ids=["new"])
    assert set(_ids(code.search_text("E1234"))) == {"error", "new"}
    code.add(texts=["nothing numeric remains"], vectors=_vec(rng, 1), ids=["error"])  # upsert: new text
    assert _ids(code.search_text("E1234")) == ["new"]
    assert _ids(code.search_text("numeric")) == ["error"]
    code.delete(ids=["new"])
    assert code.search_text("E1234") == []
    code.delete(filter={"kind": "code"})
    assert "parse" not in _ids(code.search_text("PyArg_ParseTuple"))
    code.clear()
    assert code.search_text("path") == []
    code.add(texts=["a path again"], vectors=_vec(rng, 1), ids=["again"])
    assert _ids(code.search_text("path")) == ["again"]


def test_rotation_keeps_the_text_index_right(vault: Vault, code: Any) -> None:
    before = [(h.id, h.score) for h in code.search_text("path join", k=8)]
    vault.rotate_data_keys("code")
    assert [(h.id, h.score) for h in code.search_text("path join", k=8)] == before
    code.add(texts=["join after rotation"], vectors=_vec(np.random.default_rng(2), 1), ids=["late"])
    assert "late" in _ids(code.search_text("join", k=8))


def test_two_connections_stay_fresh(open_vault: Callable[..., Vault]) -> None:
    rng = np.random.default_rng(3)
    a = open_vault().collection("c", dim=4)
    b = open_vault().collection("c", dim=4)
    a.add(texts=["kiwi"], vectors=_vec(rng, 1), ids=["x"])
    assert _ids(b.search_text("kiwi")) == ["x"]
    b.add(texts=["kiwi mango"], vectors=_vec(rng, 1), ids=["y"])
    assert set(_ids(a.search_text("kiwi"))) == {"x", "y"}
    b.add(texts=["mango only"], vectors=_vec(rng, 1), ids=["x"])
    b.delete(ids=["y"])
    assert a.search_text("kiwi") == []
    assert _ids(a.search_text("mango")) == ["x"]
    b.clear()
    assert a.search_text("mango") == []


def test_a_large_change_rebuilds_and_deletes_past_the_log_reload(vault: Vault) -> None:
    rng = np.random.default_rng(4)
    col = vault.collection("big", dim=4)
    n = 12_000
    col.add(texts=[f"word{i % 7} common" for i in range(n)], vectors=_vec(rng, n), ids=[f"b{i}" for i in range(n)])
    assert len(col.search_text("word3", k=n)) == len([i for i in range(n) if i % 7 == 3])
    col.delete(ids=[f"b{i}" for i in range(0, n, 2)])  # more than the deletion log keeps: a reload
    assert len(col.search_text("common", k=n)) == n // 2
    col.add(texts=["word3 fresh"] * 11_000, vectors=_vec(rng, 11_000), ids=[f"f{i}" for i in range(11_000)])
    assert len(col.search_text("fresh", k=n)) == 11_000  # a change this large rebuilds the index


def test_threads_see_a_consistent_index(vault: Vault) -> None:
    rng = np.random.default_rng(6)
    col = vault.collection("t", dim=4)
    col.add(texts=["seed"], vectors=_vec(rng, 1), ids=["seed"])
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(40):
                col.add(texts=[f"grape {i}"], vectors=_vec(np.random.default_rng(i), 1), ids=[f"g{i}"])
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(40):
                for hit in col.search_text("grape", k=50):
                    assert hit.text.startswith("grape")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(col.search_text("grape", k=100)) == 40


_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {core!r})
    from vecvault import Vault
    from vecvault.keys import StaticKeyProvider
    path, key, action = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
    with Vault.open(path, key=StaticKeyProvider(key)) as vault:
        col = vault.collection("c")
        if action == "add":
            col.add(texts=["papaya from elsewhere"], vectors=[[0.0, 1.0]], ids=["other"])
        elif action == "upsert":
            col.add(texts=["no fruit"], vectors=[[0.0, 1.0]], ids=["mine"])
        elif action == "clear":
            col.clear()
    """
)


@pytest.mark.multiprocess
def test_writes_by_another_process_reach_the_text_index(
    open_vault: Callable[..., Vault], vault_path: Path, master_key: bytes
) -> None:
    col = open_vault().collection("c", dim=2)
    col.add(texts=["papaya here"], vectors=[[1.0, 0.0]], ids=["mine"])
    assert _ids(col.search_text("papaya")) == ["mine"]

    def other(action: str) -> None:
        subprocess.run(
            [sys.executable, "-c", _WRITER.format(core=str(ROOT / "core")), str(vault_path), master_key.hex(), action],
            check=True,
            timeout=60,
        )

    other("add")
    assert set(_ids(col.search_text("papaya"))) == {"mine", "other"}
    other("upsert")
    assert _ids(col.search_text("papaya")) == ["other"]
    other("clear")
    assert col.search_text("papaya") == []


def test_plain_collections_search_text_too(vault: Vault) -> None:
    col = vault.collection("plain", dim=2, vectors="plain")
    col.add(texts=["plain kiwi", "plain mango"], vectors=[[1.0, 0.0], [0.0, 1.0]], ids=["a", "b"])
    assert _ids(col.search_text("kiwi")) == ["a"]
    col.add(texts=["kiwi too"], vectors=[[1.0, 0.0]], ids=["b"])
    assert set(_ids(col.search_text("kiwi"))) == {"a", "b"}
    assert _ids(col.search_hybrid([0.0, 1.0], "kiwi", k=2))[0] in {"a", "b"}


# -- hybrid -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", ["exact", "hnsw"])
@pytest.mark.parametrize("flt", [None, {"color": "green"}, {"rare": True}])
def test_hybrid_rrf_is_the_fusion_of_both_legs(vault: Vault, many: Any, index: str, flt: Any) -> None:
    col, _, _ = many
    if index == "hnsw":
        pytest.importorskip("hnswlib")
        col = vault.collection("many", index="hnsw")
    query_vector = np.random.default_rng(9).standard_normal(4)
    dense = col.search(query_vector, k=30, filter=flt)
    lexical = col.search_text("theta zeta", k=20, filter=flt)
    hits = col.search_hybrid(query_vector, "theta zeta", k=15, filter=flt, dense_k=30, text_k=20)
    reference = reciprocal_rank_fusion([[(h.id, h.score) for h in dense], [(h.id, h.score) for h in lexical]])[:15]
    assert [(h.id, h.score) for h in hits] == [(i, pytest.approx(s)) for i, s in reference]
    for hit in hits:
        assert hit.relevance == pytest.approx(rrf_relevance(hit.score, 2))
        assert 0.0 <= hit.relevance <= 1.0
        assert hit.distance == pytest.approx(1.0 - hit.relevance)
    if flt is not None:
        assert all(evaluate(parse_filter(flt), h.metadata) for h in hits)


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 1.0])
def test_hybrid_relative_fusion_weights_by_alpha(many: Any, alpha: float) -> None:
    col, _, _ = many
    query_vector = np.random.default_rng(10).standard_normal(4)
    dense = col.search(query_vector, k=10)
    lexical = col.search_text("alpha", k=10)
    hits = col.search_hybrid(query_vector, "alpha", k=10, fusion="relative", alpha=alpha)
    reference = relative_score_fusion([(h.id, h.score) for h in dense], [(h.id, h.score) for h in lexical], alpha)
    # the dense leg fuses the float32 ranking scores; search() re-scores in float64 (differences ~1e-7)
    assert [(h.id, h.score) for h in hits] == [(i, pytest.approx(s, rel=1e-5, abs=1e-6)) for i, s in reference[:10]]
    if alpha == 1.0:
        assert _ids(hits) == _ids(dense)
    if alpha == 0.0:
        text_only = relative_score_fusion([], [(h.id, h.score) for h in lexical], 0.0)
        assert [(h.id, h.score) for h in hits] == [(i, pytest.approx(s)) for i, s in text_only]
    assert all(0.0 <= h.relevance <= 1.0 for h in hits)


def test_hybrid_finds_what_each_leg_finds(code: Any) -> None:
    vector = code.get(ids=["dogs"])[0].vector
    hits = code.search_hybrid(vector, "E1234", k=2)
    assert set(_ids(hits)) == {"dogs", "error"}  # the dense leg's best and the text leg's best
    only_stop_words = code.search_hybrid(vector, "the of and", k=3)
    assert only_stop_words[0].id == "dogs"  # the text leg is empty: the dense ranking decides
    assert only_stop_words[0].relevance == pytest.approx(0.5)


# -- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_an_empty_query_raises(code: Any, query: str) -> None:
    with pytest.raises(ConfigurationError, match="empty"):
        code.search_text(query)
    with pytest.raises(ConfigurationError, match="empty"):
        code.search_hybrid(np.ones(4), query)


def test_bad_arguments_raise_clear_errors(code: Any) -> None:
    v = np.ones(4)
    with pytest.raises(ConfigurationError, match="must be a str"):
        code.search_text(["path"])
    with pytest.raises(ConfigurationError, match="Invalid fusion"):
        code.search_hybrid(v, "path", fusion="max")
    for alpha in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(ConfigurationError, match="alpha"):
            code.search_hybrid(v, "path", fusion="relative", alpha=alpha)
    with pytest.raises(ConfigurationError, match="fusion='relative'"):
        code.search_hybrid(v, "path", alpha=0.5)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigurationError):
            code.search_text("path", k=bad)
        with pytest.raises(ConfigurationError):
            code.search_hybrid(v, "path", dense_k=bad)
        with pytest.raises(ConfigurationError):
            code.search_hybrid(v, "path", text_k=bad)
    with pytest.raises(ConfigurationError, match="dimension"):
        code.search_hybrid(np.ones(3), "path")
    with pytest.raises(ConfigurationError, match="characters"):
        code.search_text("x" * 20_000)


def test_stop_words_only_and_huge_k_are_documented_results(code: Any) -> None:
    assert code.search_text("the of and is") == []
    assert code.search_text("!!! ... ???") == []
    hits = code.search_text("path", k=10**12)
    assert {"join", "path"} <= set(_ids(hits))
    assert len(code.search_hybrid(np.ones(4), "path", k=10**12)) == len(CODE_TEXTS)


def test_an_unknown_collection_and_an_empty_one_return_nothing(vault: Vault) -> None:
    assert vault.collection("nothing").search_text("path") == []
    empty = vault.collection("empty", dim=2)
    assert empty.search_text("path") == []
    assert empty.search_hybrid([1.0, 0.0], "path") == []


def test_without_tantivy_the_error_names_the_extra(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    col = vault.collection("c", dim=2)
    col.add(texts=["x"], vectors=[[1.0, 0.0]])
    monkeypatch.setitem(sys.modules, "tantivy", None)
    with pytest.raises(ConfigurationError, match=re.escape("pip install 'vecvault[text]'")):
        col.search_text("x")
    with pytest.raises(ConfigurationError, match=re.escape("vecvault[text]")):
        col.search_hybrid([1.0, 0.0], "x")
    assert col.search([1.0, 0.0], k=1)  # dense search never needs it


# -- nothing at rest -----------------------------------------------------------------------------------------

CANARY_TOKENS = ["quokkatoken", "xylophoneidentifier", "Zyzzyva_ParseWidget"]


@pytest.mark.parametrize("file_encryption", [True, False])
def test_no_token_or_posting_list_reaches_any_file(tmp_path: Path, master_key: bytes, file_encryption: bool) -> None:
    from tests.core.storage.test_at_rest import _forms

    directory = tmp_path / "vault"
    directory.mkdir()
    before_tmp = set(os.listdir(tmp_path))
    with Vault.open(directory / "v.db", key=master_key, file_encryption=file_encryption) as vault:
        col = vault.collection("c", dim=4)
        rng = np.random.default_rng(7)
        texts = [f"{CANARY_TOKENS[i % 3]} filler words number {i}" for i in range(300)]
        col.add(texts=texts, vectors=_vec(rng, 300), ids=[f"r{i}" for i in range(300)])
        for token in CANARY_TOKENS:
            assert col.search_text(token, k=5)
            assert col.search_hybrid(rng.standard_normal(4), token, k=5)
        col.add(texts=["quokkatoken late"], vectors=_vec(rng, 1), ids=["late"])
        col.delete(ids=["r0"])
        assert col.search_text("quokkatoken late", k=1)[0].id == "late"
        listed_while_open = sorted(p.name for p in directory.iterdir())
    assert all(name.startswith("v.db") for name in listed_while_open)  # no index directory, no temp file
    assert set(os.listdir(tmp_path)) == before_tmp
    analyzed = [t.text for token in CANARY_TOKENS for t in analyzer().pre_tokenize(token).tokens]
    needles = {form for word in [*CANARY_TOKENS, *analyzed] for form in _forms(word)}
    needles |= {word.lower().encode() for word in CANARY_TOKENS}
    for path in directory.rglob("*"):
        data = path.read_bytes()
        assert not [n for n in needles if n in data], path.name


def test_the_text_index_does_not_keep_an_old_mirror_alive(code: Any) -> None:
    import gc
    import weakref

    code.search_text("path")
    old = weakref.ref(code._mirror.index)
    code.clear()
    gc.collect()
    assert old() is None  # the keeper follows the mirror's index weakly
    code.add(texts=["path again"], vectors=_vec(np.random.default_rng(8), 1), ids=["again"])
    assert _ids(code.search_text("path")) == ["again"]
