"""vecvault against its peers (issue 9): ingest, p50/p95 latency, recall@10, peak RSS, disk, open time.

Each engine runs in its own child process per size (so peak RSS is its own), on the same clustered unit
vectors and ~500-byte texts; recall@10 is against numpy's exact top 10. Engines whose packages are not
installed are listed as skipped. The vecvault row is followed by its LangChain and LlamaIndex adapters,
timed query by query against the core on the same collection.

Heavy peers live in a separate venv (never in the project's .venv)::

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install chromadb lancedb sqlite-vec pysqlite3-binary usearch faiss-cpu hnswlib \\
        langchain-core llama-index-core libsql cryptography numpy keyring matplotlib threadpoolctl
    .venv-bench/bin/python benchmarks/bench_peers.py --sizes 10000,100000 \\
        --out benchmarks/RESULTS-peers.md --png benchmarks/peers.png

CI runs the smoke mode (tiny sizes, light engines only, a few seconds, no timing assertions)::

    .venv/bin/python benchmarks/bench_peers.py --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

DROPPED = common.clean_blas_env()

import engines  # noqa: E402
import numpy as np  # noqa: E402


def _prepare(n: int, dim: int, queries: int, workdir: str) -> str:
    data = os.path.join(workdir, f"data-{n}-{dim}")
    os.makedirs(data, exist_ok=True)
    ds = common.make_dataset(n, dim, queries)
    np.save(os.path.join(data, "vectors.npy"), ds.vectors)
    np.save(os.path.join(data, "queries.npy"), ds.queries)
    np.save(os.path.join(data, "truth.npy"), engines.exact_topk(ds.vectors, ds.queries))
    return data


def _load(data: str) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    vectors = np.load(os.path.join(data, "vectors.npy"))
    return (
        vectors,
        common.make_texts(0, len(vectors)),
        np.load(os.path.join(data, "queries.npy")),
        np.load(os.path.join(data, "truth.npy")),
    )


def _child(engine: str, data: str, budget: float, ingest: tuple[int, float]) -> None:
    vectors, texts, queries, truth = _load(data)
    scratch = tempfile.mkdtemp(prefix=f"vv-{engine}-", dir=data)
    try:
        rows = engines.run_engine(
            engine, vectors, texts, queries, truth, scratch, budget, ingest_runs=ingest[0], ingest_budget_s=ingest[1]
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(rows))


def run(
    sizes: list[int],
    names: list[str],
    dim: int,
    queries: int,
    workdir: str,
    *,
    in_process: bool,
    budget: float,
    timeout: float,
    ingest: tuple[int, float] = (1, 0.0),
) -> list[dict[str, Any]]:
    """Every engine at every size; returns result rows (skips and failures included)."""
    results: list[dict[str, Any]] = []
    for n in sizes:
        data = _prepare(n, dim, queries, workdir)
        for name in names:
            t0 = time.perf_counter()
            try:
                if in_process:
                    vectors, texts, qs, truth = _load(data)
                    scratch = tempfile.mkdtemp(prefix=f"vv-{name}-", dir=data)
                    try:
                        rows = engines.run_engine(
                            name,
                            vectors,
                            texts,
                            qs,
                            truth,
                            scratch,
                            budget,
                            ingest_runs=ingest[0],
                            ingest_budget_s=ingest[1],
                        )
                    finally:
                        shutil.rmtree(scratch, ignore_errors=True)
                else:
                    proc_rows = common.run_json(
                        [
                            __file__,
                            "--child",
                            name,
                            "--data",
                            data,
                            "--query-budget",
                            str(budget),
                            "--ingest-runs",
                            str(ingest[0]),
                            "--ingest-budget",
                            str(ingest[1]),
                        ],
                        timeout=timeout,
                    )
                    rows = proc_rows if isinstance(proc_rows, list) else [proc_rows]
            except Exception as exc:  # a peer failing is a result, not a crash of the harness
                rows = [
                    {"engine": engines.ENGINES[name].name, "n": n, "failed": str(exc).strip().splitlines()[-1][:200]}
                ]
            for row in rows:
                row.setdefault("n", n)
            results.extend(rows)
            print(f"  {name} @ {n:,}: {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    return results


def table(results: list[dict[str, Any]]) -> str:
    """The Markdown table of every row."""
    header = [
        "engine",
        "n",
        "ingest vec/s",
        "p50 ms",
        "p95 ms",
        "recall@10",
        "peak RSS MiB",
        "disk MiB",
        "open+1st query s",
        "note",
    ]
    rows = []
    for r in results:
        if "skipped" in r or "failed" in r:
            rows.append(
                [
                    r["engine"],
                    f"{r['n']:,}",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    ("skipped: " + r["skipped"]) if "skipped" in r else ("FAILED: " + r["failed"]),
                ]
            )
            continue
        note = r.get("note", "")
        if r.get("ingest_runs", 1) > 1:
            note = "; ".join(x for x in (f"ingest: median of {r['ingest_runs']} runs", note) if x)
        if "overhead" in r:
            note = f"adapter over the same vault: {r['overhead']:.2f}x core p50 (interleaved)"
        rows.append(
            [
                r["engine"],
                f"{r['n']:,}",
                r.get("ingest_per_s", float("nan")),
                r["p50_ms"],
                r["p95_ms"],
                r.get("recall", float("nan")),
                r.get("peak_rss_mib", float("nan")),
                r["disk_bytes"] / 2**20 if r.get("disk_bytes") else float("nan"),
                r.get("open_s", float("nan")),
                note,
            ]
        )
    return common.markdown_table(header, rows)


def targets(results: list[dict[str, Any]]) -> str:
    """Issue 9's ratio targets that these results can answer."""
    by: dict[tuple[str, int], dict[str, Any]] = {(r["engine"], r["n"]): r for r in results if "p50_ms" in r}
    lines = []
    for n in sorted({r["n"] for r in results}):
        vv = by.get(("vecvault", n))
        if vv is None:
            continue
        for peer in ("LangChain InMemoryVectorStore", "LlamaIndex SimpleVectorStore"):
            p = by.get((peer, n))
            if p:
                ratio = p["p50_ms"] / vv["p50_ms"]
                lines.append(f"- {n:,}: vecvault p50 is {ratio:,.0f}x faster than {peer} (target at 10k: >= 100x)")
        chroma = by.get(("Chroma (HNSW)", n))
        if chroma:
            ratio = vv["ingest_per_s"] / chroma["ingest_per_s"]
            runs = f"medians of {vv.get('ingest_runs', 1)} and {chroma.get('ingest_runs', 1)} ingests"
            lines.append(
                f"- {n:,}: vecvault ingest (seal + commit) is {ratio:.2f}x Chroma's add throughput ({runs}; "
                "target >= 20x)"
            )
            lines.append(
                f"- {n:,}: vecvault exact p50 {vv['p50_ms']:.2f} ms vs Chroma HNSW p50 {chroma['p50_ms']:.2f} ms "
                f"(recall {chroma['recall']:.3f})"
            )
        for adapter in ("vecvault + LangChain adapter", "vecvault + LlamaIndex adapter"):
            a = by.get((adapter, n))
            if a:
                lines.append(f"- {n:,}: {adapter} query overhead {a['overhead']:.2f}x core (target <= 1.2x)")
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: str) -> None:
    """Two log-scale panels: p50 latency and ingest throughput per engine, one bar per size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if "p50_ms" in r and "overhead" not in r]
    names = list(dict.fromkeys(r["engine"] for r in ok))
    sizes = sorted({r["n"] for r in ok})
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.45 * len(names) + 2), sharey=True)
    height = 0.8 / max(1, len(sizes))
    for j, n in enumerate(sizes):
        rows = {r["engine"]: r for r in ok if r["n"] == n}
        ys = [i + j * height for i in range(len(names))]
        axes[0].barh(ys, [rows[e]["p50_ms"] if e in rows else 0 for e in names], height, label=f"n={n:,}")
        axes[1].barh(ys, [rows[e].get("ingest_per_s", 0) if e in rows else 0 for e in names], height, label=f"n={n:,}")
    axes[0].set_yticks([i + 0.4 - height / 2 for i in range(len(names))], names)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("p50 top-10 query, ms (log, lower is better)")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("ingest, vectors/s (log, higher is better)")
    axes[0].legend()
    axes[0].invert_yaxis()
    fig.suptitle("vecvault vs peers (384-d clustered unit vectors; 2-core VM)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    """Parse arguments, run, print, write Markdown and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated sizes (e.g. 10000,100000,1000000)")
    parser.add_argument("--engines", default="all", help=f"comma-separated, or all: {','.join(engines.ENGINES)}")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--query-budget", type=float, default=20.0, help="seconds of timed queries per engine")
    parser.add_argument(
        "--ingest-runs", type=int, default=5, help="ingests per engine into new stores; the table shows the median"
    )
    parser.add_argument(
        "--ingest-budget", type=float, default=20.0, help="seconds after which an engine gets no more extra ingests"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per engine child process")
    parser.add_argument(
        "--blas-threads", type=int, help="OPENBLAS_NUM_THREADS for the engines (1 avoids thread stalls on a busy box)"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, light engines, in process (CI)")
    parser.add_argument("--in-process", action="store_true", help="no child processes (peak RSS is shared)")
    parser.add_argument("--workdir")
    parser.add_argument("--out", help="write the Markdown report here")
    parser.add_argument("--png", help="write the plot here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.blas_threads and not args.child:
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)  # children inherit it
    if args.child:
        _child(args.child, args.data, args.query_budget, (args.ingest_runs, args.ingest_budget))
        return
    if args.smoke:
        sizes, dim, queries, names, in_process = [1000], 16, 20, list(engines.LIGHT), True
        args.query_budget = min(args.query_budget, 2.0)
    else:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        dim, queries, in_process = args.dim, args.queries, args.in_process
        names = list(engines.ENGINES) if args.engines == "all" else args.engines.split(",")
    unknown = [n for n in names if n not in engines.ENGINES]
    if unknown:
        parser.error(f"unknown engines {unknown}; expected some of {list(engines.ENGINES)}")
    workdir = args.workdir or tempfile.mkdtemp(prefix="vecvault-peers-")
    os.makedirs(workdir, exist_ok=True)
    try:
        results = run(
            sizes,
            names,
            dim,
            queries,
            workdir,
            in_process=in_process,
            budget=args.query_budget,
            timeout=args.timeout,
            ingest=(1, 0.0) if args.smoke else (args.ingest_runs, args.ingest_budget),
        )
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report = "\n".join(
        [
            f"### vecvault vs peers, {dim}-d, sizes {', '.join(f'{n:,}' for n in sizes)}",
            "",
            *common.report_preamble(DROPPED),
            "",
            table(results),
            "",
            targets(results),
        ]
    )
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")
    if args.png:
        plot(results, args.png)


if __name__ == "__main__":
    main()
