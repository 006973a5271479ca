"""Choose vecvault's HNSW library: hnswlib, usearch and faiss HNSW side by side on the same vectors.

For each library: build time (all cores), then p50 latency and recall@10 (vs exact) at several ``ef``.
Every library gets M=16 (usearch: connectivity=16) and ef_construction=128 (usearch: expansion_add).

    .venv-bench/bin/python benchmarks/bench_ann.py --n 100000 --out benchmarks/RESULTS-ann.md
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common

DROPPED = common.clean_blas_env()

import engines  # noqa: E402
import numpy as np  # noqa: E402

M = 16
EF_CONSTRUCTION = 128
EFS = (16, 32, 64, 128, 256)
K = 10


def _hnswlib(x: np.ndarray) -> tuple[float, Callable[[int], Callable[[np.ndarray], Any]]]:
    import hnswlib

    t0 = time.perf_counter()
    index = hnswlib.Index(space="ip", dim=x.shape[1])
    index.init_index(max_elements=len(x), M=M, ef_construction=EF_CONSTRUCTION)
    index.add_items(x, np.arange(len(x)))
    build = time.perf_counter() - t0

    def at(ef: int) -> Callable[[np.ndarray], Any]:
        index.set_ef(ef)
        return lambda q: index.knn_query(q, k=K)[0][0]

    return build, at


def _usearch(x: np.ndarray) -> tuple[float, Callable[[int], Callable[[np.ndarray], Any]]]:
    from usearch.index import Index

    t0 = time.perf_counter()
    index = Index(ndim=x.shape[1], metric="ip", dtype="f32", connectivity=M, expansion_add=EF_CONSTRUCTION)
    index.add(np.arange(len(x)), x)
    build = time.perf_counter() - t0

    def at(ef: int) -> Callable[[np.ndarray], Any]:
        index.expansion_search = ef
        return lambda q: index.search(q, K).keys

    return build, at


def _faiss(x: np.ndarray) -> tuple[float, Callable[[int], Callable[[np.ndarray], Any]]]:
    import faiss

    t0 = time.perf_counter()
    index = faiss.IndexHNSWFlat(x.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    index.add(x)
    build = time.perf_counter() - t0

    def at(ef: int) -> Callable[[np.ndarray], Any]:
        index.hnsw.efSearch = ef
        return lambda q: index.search(q.reshape(1, -1), K)[1][0]

    return build, at


LIBRARIES = {"hnswlib": _hnswlib, "usearch": _usearch, "faiss HNSWFlat": _faiss}


def main() -> None:
    """Build each library's graph and sweep ef."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out")
    parser.add_argument("--libraries", default=",".join(LIBRARIES), help=f"comma-separated: {', '.join(LIBRARIES)}")
    parser.add_argument("--efs", default=",".join(map(str, EFS)), help="comma-separated ef values to sweep")
    args = parser.parse_args()
    ds = common.make_dataset(args.n, 384, args.queries)
    truth = engines.exact_topk(ds.vectors, ds.queries)
    rows = []
    efs = [int(e) for e in args.efs.split(",")]
    for name in args.libraries.split(","):
        make = LIBRARIES[name]
        try:
            build, at = make(ds.vectors)
        except ImportError as exc:
            rows.append([name, "skipped: " + str(exc), "", "", "", ""])
            continue
        for ef in efs:
            fn = at(ef)
            times = common.time_queries(fn, list(ds.queries))
            recall = np.mean(
                [
                    len(set(np.asarray(fn(q)).tolist()) & set(t.tolist())) / K
                    for q, t in zip(ds.queries, truth, strict=True)
                ]
            )
            rows.append([name, f"{build:.1f}", ef, common.median(times), common.percentile(times, 95), float(recall)])
        print(f"  {name}: built in {build:.1f}s", file=sys.stderr, flush=True)
    header = ["library", "build s", "ef", "p50 ms", "p95 ms", "recall@10"]
    report = "\n".join(
        [
            f"### HNSW libraries at {args.n:,} x 384-d (M={M}, ef_construction={EF_CONSTRUCTION}, all cores)",
            "",
            *common.report_preamble(DROPPED),
            "",
            common.markdown_table(header, rows),
        ]
    )
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")


if __name__ == "__main__":
    main()
