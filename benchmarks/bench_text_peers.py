"""Peers of vecvault's text index on the same texts: rank_bm25, bm25s and LanceDB's full-text search.

Run by ``bench_text.py --peers-python PATH`` in an interpreter that has the peers installed (a separate
venv: none of them is a vecvault dependency). Each engine runs in its own child process, so its memory
is measured alone. Prints one JSON list on its last line.

    python bench_text_peers.py TEXTS.json QUERIES.json WORKDIR
"""

from __future__ import annotations

import gc
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\w+")
ENGINES = ("rank_bm25", "bm25s", "lancedb")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def p50(fn: Any, queries: list[str]) -> float:
    for q in queries[:5]:
        fn(q)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def run(engine: str, texts: list[str], queries: list[str], workdir: str) -> dict[str, Any]:
    gc.collect()
    rss0 = rss_mib()
    if engine == "rank_bm25":
        import numpy as np
        from rank_bm25 import BM25Okapi

        t0 = time.perf_counter()
        index = BM25Okapi([tokenize(t) for t in texts])
        build = time.perf_counter() - t0
        memory = rss_mib() - rss0

        def query(q: str) -> Any:
            scores = index.get_scores(tokenize(q))
            return np.argpartition(-scores, 10)[:10]

        return {"engine": "rank_bm25 (pure Python)", "build_s": build, "rss_mib": memory,
                "p50_ms": p50(query, queries[:20]), "notes": "rebuild on change; 20 queries timed"}  # fmt: skip
    if engine == "bm25s":
        import bm25s

        t0 = time.perf_counter()
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        build = time.perf_counter() - t0
        memory = rss_mib() - rss0

        def query(q: str) -> Any:
            return retriever.retrieve(bm25s.tokenize([q], stopwords="en", show_progress=False), k=10,
                                      show_progress=False)  # fmt: skip

        return {"engine": f"bm25s {bm25s.__version__} (numpy)", "build_s": build, "rss_mib": memory,
                "p50_ms": p50(query, queries), "notes": "rebuild on change"}  # fmt: skip
    if engine == "lancedb":
        import lancedb
        import pyarrow as pa

        db = lancedb.connect(str(Path(workdir) / "lance"))
        table = db.create_table("t", pa.table({"id": list(range(len(texts))), "text": texts}), mode="overwrite")
        t0 = time.perf_counter()
        table.create_fts_index("text", replace=True)
        build = time.perf_counter() - t0
        memory = rss_mib() - rss0

        def query(q: str) -> Any:
            return table.search(q, query_type="fts").limit(10).to_list()

        return {"engine": f"LanceDB {lancedb.__version__} FTS (on disk, plaintext)", "build_s": build,
                "rss_mib": memory, "p50_ms": p50(query, queries), "notes": "index files unencrypted"}  # fmt: skip
    raise SystemExit(f"unknown engine {engine}")


def main() -> None:
    texts = json.loads(Path(sys.argv[1]).read_text())
    queries = json.loads(Path(sys.argv[2]).read_text())
    workdir = sys.argv[3]
    if len(sys.argv) > 4:
        print(json.dumps(run(sys.argv[4], texts, queries, workdir)))
        return
    out = []
    for engine in ENGINES:
        proc = subprocess.run([sys.executable, __file__, *sys.argv[1:4], engine], capture_output=True, text=True)
        if proc.returncode != 0:
            out.append({"engine": engine, "build_s": float("nan"), "p50_ms": float("nan"), "rss_mib": float("nan"),
                        "notes": "failed: " + proc.stderr.strip().splitlines()[-1][:120]})  # fmt: skip
            continue
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
