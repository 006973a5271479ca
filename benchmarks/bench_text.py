"""Speed and memory of text (BM25) and hybrid search at scale, against rank_bm25, bm25s and LanceDB's FTS.

One vault of ``--n`` records (default 100k): ~500-byte texts (windows of the shipped corpus' words, with
code identifiers spliced in), 384-d clustered vectors, metadata for filters. A fresh child process opens
it and measures, in one run (so the ratios hold on a busy machine):

- opening the vectors (the first dense search) and building the text index (the first text query, which
  opens every text), and the text index's memory (RSS growth; also after ``malloc_trim``, which returns
  freed pages the allocator kept) against the texts' own bytes;
- p50 of dense, text and hybrid (RRF) queries, interleaved query by query; filtered text queries;
- a write followed by a text query (the index catching up with one record).

``--peers-python PATH`` runs the peers on the same texts and queries in another interpreter (a venv
with ``rank_bm25``, ``bm25s`` and ``lancedb``; never project dependencies):

    python -m venv .venv-bench && .venv-bench/bin/pip install rank-bm25 bm25s lancedb
    python benchmarks/bench_text.py --peers-python .venv-bench/bin/python
    python benchmarks/bench_text.py --smoke        # harness check (CI)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import common

CORPUS = common.ROOT / "data" / "corpus" / "python_docs.jsonl"
BATCH = 2_000
TEXT_BYTES = 500
IDENTIFIERS = [
    "os.path.join", "PyArg_ParseTuple", "asyncio.gather", "snake_case_name", "CamelCaseName", "E1234",
    "json.dumps", "subprocess.run", "ThreadPoolExecutor", "__init__", "sys.argv", "datetime.timedelta",
]  # fmt: skip


def make_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` texts of about 500 bytes: corpus word windows, one in eight with a numbered identifier."""
    words = " ".join(json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()).split()
    rng = random.Random(seed)
    out = []
    for i in range(n):
        start = rng.randrange(len(words) - 120)
        text = " ".join(words[start : start + 100])[:TEXT_BYTES]
        if i % 8 == 0:
            text = f"{rng.choice(IDENTIFIERS)}_{i % 5000} " + text[: TEXT_BYTES - 24]
        out.append(text)
    return out


def make_queries(count: int, seed: int = 1) -> list[str]:
    """Word queries (two to four corpus words) and identifier queries, alternating."""
    words = [w.strip(".,;:()") for w in " ".join(make_texts(2000, seed=seed)).split()]
    words = [w for w in words if len(w) > 3 and w.isalpha()]
    rng = random.Random(seed)
    out = []
    for i in range(count):
        if i % 4 == 3:
            out.append(f"{rng.choice(IDENTIFIERS)}_{rng.randrange(5000)}")
        else:
            out.append(" ".join(rng.sample(words, rng.randint(2, 4))))
    return out


def build(path: Path, n: int, master: bytes) -> dict[str, float]:
    """Create the vault (texts, vectors, metadata); return the ingest time."""
    from vecvault import Vault

    ds = common.make_dataset(n, queries=1)
    texts = make_texts(n)
    t0 = time.perf_counter()
    with Vault.open(path, key=master) as vault:
        col = vault.collection("bench", dim=ds.vectors.shape[1])
        for start in range(0, n, BATCH):
            m = min(BATCH, n - start)
            col.add(
                texts=texts[start : start + m],
                vectors=ds.vectors[start : start + m],
                metadatas=common.metadatas(ds, start, m),
                ids=[f"r{i}" for i in range(start, start + m)],
            )
    return {"ingest_s": time.perf_counter() - t0, "text_bytes": float(sum(len(t.encode()) for t in texts))}


def _trim() -> None:
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def probe(path: str, master_hex: str) -> dict[str, Any]:
    """A fresh process: open the vectors (first dense search), then build the text index (first text query)."""
    from vecvault import Vault

    out: dict[str, Any] = {}
    with Vault.open(path, key=bytes.fromhex(master_hex)) as vault:
        col = vault.collection("bench")
        t0 = time.perf_counter()
        col.search(common.clustered_vectors(1, 384, seed=0, part=1)[0], k=10)
        out["open_vectors_s"] = time.perf_counter() - t0
        _trim()
        rss0 = common.rss_mib()
        t0 = time.perf_counter()
        col.search_text("warm up the text index", k=10)
        out["build_text_s"] = time.perf_counter() - t0
        gc.collect()
        out["text_rss_mib"] = common.rss_mib() - rss0
        _trim()
        out["text_rss_trimmed_mib"] = common.rss_mib() - rss0
    return out


def child(path: str, master_hex: str, n_queries: int) -> dict[str, Any]:
    """Measure query latencies in a fresh process (see the module docstring); return the figures as JSON."""
    import numpy as np

    from vecvault import Vault

    queries = make_queries(n_queries)
    qvecs = common.clustered_vectors(n_queries, 384, seed=0, part=1)
    out: dict[str, Any] = {}
    with Vault.open(path, key=bytes.fromhex(master_hex)) as vault:
        col = vault.collection("bench")
        col.search(qvecs[0], k=10)
        col.search_text("warm up the text index", k=10)
        pairs = list(zip(queries, qvecs, strict=True))
        dense, text, hybrid = common.time_interleaved(
            [
                lambda p: col.search(p[1], k=10),
                lambda p: col.search_text(p[0], k=10),
                lambda p: col.search_hybrid(p[1], p[0], k=10),
            ],
            pairs,
        )
        out |= {
            "dense_p50": common.median(dense),
            "text_p50": common.median(text),
            "hybrid_p50": common.median(hybrid),
            "text_p95": common.percentile(text, 95),
            "hits_per_text_query": float(np.mean([len(col.search_text(q, k=10)) for q in queries[:50]])),
        }
        for label, flt in (("10%", {"topic": "t3"}), ("0.1%", {"shard": 7})):
            times = common.time_queries(lambda q, f=flt: col.search_text(q, k=10, filter=f), queries)  # type: ignore[misc]
            out[f"text_filtered_{label}_p50"] = common.median(times)
        rng = np.random.default_rng(5)
        catch_up = []
        for i in range(20):
            col.add(texts=[f"fresh record {i} {queries[i]}"], vectors=rng.standard_normal((1, 384)), ids=[f"new{i}"])
            t0 = time.perf_counter()
            col.search_text(queries[i], k=10)
            catch_up.append((time.perf_counter() - t0) * 1000.0)
        out["write_then_text_p50"] = common.median(catch_up)
    return out


def main() -> None:
    dropped = common.clean_blas_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="records (default 100000)")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per measurement")
    parser.add_argument("--peers-python", help="an interpreter with rank_bm25, bm25s and lancedb installed")
    parser.add_argument("--workdir", help="where to build the vault (default: a temporary directory)")
    parser.add_argument("--out", help="write the Markdown report here")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI checks the harness runs)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh-process open/build probes (median taken)")
    parser.add_argument("--child", nargs=3, metavar=("PATH", "KEY", "QUERIES"), help=argparse.SUPPRESS)
    parser.add_argument("--probe", nargs=2, metavar=("PATH", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], int(args.child[2]))))
        return
    if args.probe:
        print(json.dumps(probe(args.probe[0], args.probe[1])))
        return
    n, n_queries = (2_000, 30) if args.smoke else (args.n, args.queries)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        path = Path(tmp) / "text.db"
        master = os.urandom(32)
        built = build(path, n, master)
        script = str(Path(__file__).resolve())
        repeats = 1 if args.smoke else args.repeats
        probes = [common.run_json([script, "--probe", str(path), master.hex()]) for _ in range(repeats)]
        figures = common.run_json([script, "--child", str(path), master.hex(), str(n_queries)])
        for name in probes[0]:
            figures[name] = common.median(p[name] for p in probes)
        figures["build_ratios"] = sorted(p["build_text_s"] / p["open_vectors_s"] for p in probes)
    peers: list[dict[str, Any]] = []
    if args.peers_python:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            texts_file, queries_file = Path(tmp) / "texts.json", Path(tmp) / "queries.json"
            texts_file.write_text(json.dumps(make_texts(n)))
            queries_file.write_text(json.dumps(make_queries(n_queries)))
            script = Path(__file__).resolve().parent / "bench_text_peers.py"
            proc = subprocess.run(
                [args.peers_python, str(script), str(texts_file), str(queries_file), tmp],
                capture_output=True,
                text=True,
                timeout=3600,
                env=common.subprocess_env(),
            )
            if proc.returncode != 0:
                raise RuntimeError(f"peers failed:\n{proc.stderr[-3000:]}")
            peers = json.loads(proc.stdout.strip().splitlines()[-1])

    text_mib = built["text_bytes"] / 2**20
    f = figures
    checks = [
        ("text query p50", f"{f['text_p50']:.3f} ms", "<= 2 ms", f["text_p50"] <= 2.0),
        (
            "hybrid p50 vs dense p50 + text p50 + 0.5 ms",
            f"{f['hybrid_p50']:.2f} vs {f['dense_p50'] + f['text_p50'] + 0.5:.2f} ms",
            "<=",
            f["hybrid_p50"] <= f["dense_p50"] + f["text_p50"] + 0.5,
        ),
        (
            "text index build (first text query) vs opening the vectors",
            f"{f['build_text_s']:.2f} s vs {f['open_vectors_s']:.2f} s (medians of {len(f['build_ratios'])} fresh "
            f"processes; ratio per process {', '.join(f'{r:.2f}' for r in f['build_ratios'])})",
            "<= 2x",
            common.median(f["build_ratios"]) <= 2.0,
        ),
        (
            "text index memory (RSS growth) vs the texts' bytes",
            f"{f['text_rss_mib']:.1f} MiB vs {text_mib:.1f} MiB ({f['text_rss_mib'] / text_mib:.2f}x); "
            f"after malloc_trim {f['text_rss_trimmed_mib']:.1f} MiB ({f['text_rss_trimmed_mib'] / text_mib:.2f}x)",
            "<= 1.5x",
            f["text_rss_mib"] <= 1.5 * text_mib,
        ),
    ]
    lines = [
        f"### Text and hybrid search, {n:,} records of ~{TEXT_BYTES}-byte texts, 384-d vectors",
        "",
        *common.report_preamble(dropped),
        "",
        common.markdown_table(
            ["target", "measured", "bound", "met"], [(a, b, c, "yes" if d else "NO") for a, b, c, d in checks]
        ),
        "",
        common.markdown_table(
            ["measurement", "value"],
            [
                ("ingest (seal + commit)", f"{built['ingest_s']:.1f} s"),
                ("dense top-10 p50 (texts opened)", f"{f['dense_p50']:.3f} ms"),
                ("text top-10 p50 / p95", f"{f['text_p50']:.3f} / {f['text_p95']:.3f} ms"),
                ("hybrid (RRF) top-10 p50", f"{f['hybrid_p50']:.3f} ms"),
                ("text top-10 p50, 10% filter", f"{f['text_filtered_10%_p50']:.3f} ms"),
                ("text top-10 p50, 0.1% filter", f"{f['text_filtered_0.1%_p50']:.3f} ms"),
                ("one write, then a text query (catch-up included), p50", f"{f['write_then_text_p50']:.2f} ms"),
                ("hits per text query (of 10)", f"{f['hits_per_text_query']:.1f}"),
            ],
        ),
    ]
    if peers:
        lines += [
            "",
            f"Peers on the same {n:,} texts and queries (their own tokenizers; memory is RSS growth):",
            "",
            common.markdown_table(
                ["engine", "build s", "query p50 ms", "memory MiB", "notes"],
                [
                    ("vecvault (tantivy in RAM)", f["build_text_s"], f["text_p50"], f["text_rss_mib"], "incremental"),
                    *((p["engine"], p["build_s"], p["p50_ms"], p["rss_mib"], p.get("notes", "")) for p in peers),
                ],
            ),
        ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
