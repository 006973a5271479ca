"""Issue 3's speed targets for the exact core, each a ratio to a reference measured in the same run.

Builds a sealed vault of ``--n`` clustered 384-d unit vectors (texts of ~500 bytes, metadata with a
10%-selective and a 0.1%-selective categorical field) and prints, in one table:

- unfiltered top-10 median latency of ``Collection.search`` (opening the 10 sealed texts included) vs
  numpy brute force (``X @ q`` + ``argpartition``) on the same matrix; FAISS ``IndexFlatIP`` beside it;
- filtered top-10 (10% and 0.1% equality filters) vs unfiltered, and exactness of the 0.1% case;
- MMR (fetch_k=20, k=5) vs plain top-10;
- open + first search in a fresh process vs reading and AES-GCM-decrypting the same vectors (the floor);
- resident memory after open vs raw vector bytes + the interpreter-with-imports baseline;
- add throughput (10k records) and reopen time.

Run from the repository root::

    .venv/bin/python benchmarks/bench_core.py --n 100000 --out benchmarks/RESULTS-core.md
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import common

DROPPED = common.clean_blas_env()

import numpy as np  # noqa: E402

from vecvault import Vault  # noqa: E402
from vecvault.crypto import derive_file_key, derive_subkey  # noqa: E402

K = 10
BATCH = 5_000


def _numpy_top(matrix: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    scores = matrix @ q
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def build_vault(path: str, ds: common.Dataset, master: bytes, name: str = "bench") -> float:
    """Create the vault; return the add throughput in records/s (whole build)."""
    n = ds.vectors.shape[0]
    t_total = 0.0
    with Vault.open(path, key=master) as vault:
        col = vault.collection(name, dim=ds.vectors.shape[1])
        for start in range(0, n, BATCH):
            m = min(BATCH, n - start)
            texts = common.make_texts(start, m)
            metas = common.metadatas(ds, start, m)
            ids = [f"r{i}" for i in range(start, start + m)]
            t0 = time.perf_counter()
            col.add(texts=texts, vectors=ds.vectors[start : start + m], metadatas=metas, ids=ids)
            t_total += time.perf_counter() - t0
    return n / t_total


def run(
    n: int, queries: int, repeats: int, workdir: str, add_n: int = 10_000
) -> tuple[list[list[Any]], dict[str, Any]]:
    """Run every measurement; return the table rows and raw facts."""
    dim = 384
    ds = common.make_dataset(n, dim, queries)
    qs = ds.queries
    master = os.urandom(32)
    path = os.path.join(workdir, "core.db")
    t0 = time.perf_counter()
    build_rate = build_vault(path, ds, master)
    build_s = time.perf_counter() - t0
    facts: dict[str, Any] = {"n": n, "build_seconds": build_s, "build_rate": build_rate}
    rows: list[list[Any]] = []

    def row(name: str, value: float, ref_name: str, ref: float, target: float | None, unit: str = "ms") -> None:
        ratio = value / ref if ref else float("nan")
        verdict = "" if target is None else ("met" if ratio <= target else "MISSED")
        rows.append(
            [
                name,
                f"{value:.3f} {unit}",
                ref_name,
                f"{ref:.3f} {unit}",
                round(ratio, 2),
                "" if target is None else f"<= {target}",
                verdict,
            ]
        )

    with Vault.open(path, key=master) as vault:
        col = vault.collection("bench")
        ids_order, matrix = col.vectors()
        matrix = np.ascontiguousarray(matrix)
        # -- unfiltered top-10
        vault_t, numpy_t = common.time_interleaved(
            [lambda q: col.search(q, k=K), lambda q: _numpy_top(matrix, q, K)], qs
        )
        vault_ms, numpy_ms = common.median(vault_t), common.median(numpy_t)
        row("Collection.search top-10 (texts opened)", vault_ms, "numpy X@q+argpartition", numpy_ms, 1.3)
        facts["faiss_ms"] = None
        try:
            import faiss
        except ImportError:
            faiss = None
        if faiss is not None:
            # Timed in its own pass: faiss's OpenMP threads keep spinning after a call and would slow
            # whichever function runs next.
            flat = faiss.IndexFlatIP(dim)
            flat.add(matrix)
            faiss_t, numpy_t2 = common.time_interleaved(
                [lambda q: flat.search(q.reshape(1, -1), K), lambda q: _numpy_top(matrix, q, K)], qs
            )
            facts["faiss_ms"] = common.median(faiss_t)
            row(
                "faiss IndexFlatIP top-10 (ids only)",
                facts["faiss_ms"],
                "numpy (same pass)",
                common.median(numpy_t2),
                None,
            )
        # -- filters
        f10 = {"topic": "t3"}
        f01 = {"shard": 7}
        col.search(qs[0], k=K, filter=f10)  # loads the metadata table once (not timed)
        plain, t10, t01 = common.time_interleaved(
            [
                lambda q: col.search(q, k=K),
                lambda q: col.search(q, k=K, filter=f10),
                lambda q: col.search(q, k=K, filter=f01),
            ],
            qs,
        )
        vault_ms2, f10_ms, f01_ms = common.median(plain), common.median(t10), common.median(t01)
        row("filtered top-10, 10% eq filter", f10_ms, "unfiltered top-10", vault_ms2, 2.0)
        row("filtered top-10, 0.1% eq filter", f01_ms, "unfiltered top-10", vault_ms2, 3.0)
        # exactness of the 0.1% filter against brute force over the matching rows
        position = {rid: i for i, rid in enumerate(ids_order)}
        shard_of = np.array([ds.shard[int(rid[1:])] for rid in ids_order])
        match = np.flatnonzero(shard_of == 7)
        exact = 0
        for q in qs:
            want = [ids_order[match[i]] for i in _numpy_top(matrix[match], q, min(K, match.size))]
            got = [h.id for h in col.search(q, k=K, filter=f01)]
            exact += got == want
        facts["exact_01"] = f"{exact}/{len(qs)}"
        del position
        rows.append(
            [
                "0.1% filter: same ids and order as brute force",
                f"{exact}/{len(qs)} queries",
                "",
                "",
                "",
                "all",
                "met" if exact == len(qs) else "MISSED",
            ]
        )
        # -- MMR
        plain, mmr = common.time_interleaved(
            [lambda q: col.search(q, k=K), lambda q: col.search_mmr(q, k=5, fetch_k=20)], qs
        )
        mmr_ms = common.median(mmr)
        row("MMR k=5 fetch_k=20", mmr_ms, "unfiltered top-10", common.median(plain), 2.0)
        vault_id = vault.core.keys.vault_id.hex()
        primary = vault.core.keys.keyset.primary("bench")
        data_key = derive_subkey(primary.material or b"", "row-seal")  # the row-sealing subkey
        file_key = derive_file_key(master) if vault.file_encrypted else ""
        facts.update(vault_ms=vault_ms, numpy_ms=numpy_ms, f10_ms=f10_ms, f01_ms=f01_ms, mmr_ms=mmr_ms)
    # -- open in a fresh process vs the floor; memory
    env = common.subprocess_env()
    env.update(
        VECVAULT_BENCH_MASTER=master.hex(),
        VECVAULT_BENCH_DATA_KEY=(data_key or b"").hex(),
        VECVAULT_BENCH_FILE_KEY=file_key,
        VECVAULT_BENCH_VAULT_ID=vault_id,
        VECVAULT_BENCH_DIM=str(dim),
    )
    opened, floor = common.open_probes(path, env, repeats)
    row(
        "open + first search, fresh process",
        opened["seconds"] * 1000,
        "SELECT + AES-GCM decrypt loop",
        floor["seconds"] * 1000,
        1.5,
    )
    raw_mib = n * dim * 4 / 2**20
    grown = opened["rss_after"] - opened["rss_before"]
    rows.append(
        [
            "RSS growth after open (over imports baseline)",
            f"{grown:.0f} MiB",
            "raw vector bytes",
            f"{raw_mib:.0f} MiB",
            round(grown / raw_mib, 2),
            "<= 2",
            "met" if grown <= 2 * raw_mib else "MISSED",
        ]
    )
    facts.update(open=opened, floor=floor, raw_mib=raw_mib)
    # -- add throughput at 10k and reopen
    small = common.make_dataset(add_n, dim, 10, seed=1)
    small_path = os.path.join(workdir, "add10k.db")
    rate = build_vault(small_path, small, master)
    t0 = time.perf_counter()
    with Vault.open(small_path, key=master) as vault:
        vault.collection("bench").search(small.queries[0], k=K)
        reopen_s = time.perf_counter() - t0
    rows.append([f"add throughput, {add_n:,} x 384-d + 500-byte texts", f"{rate:,.0f} rec/s", "", "", "", "", ""])
    rows.append([f"reopen + first search, {add_n:,} (in process)", f"{reopen_s * 1000:.1f} ms", "", "", "", "", ""])
    rows.append([f"add throughput, {n:,} build (batches of {BATCH})", f"{build_rate:,.0f} rec/s", "", "", "", "", ""])
    facts.update(add_rate_10k=rate, reopen_10k_s=reopen_s)
    return rows, facts


def main() -> None:
    """Parse arguments, run, print and optionally write the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="records in the vault (default 100000)")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process probes (median taken)")
    parser.add_argument("--out", help="write the Markdown report here")
    parser.add_argument("--workdir", help="where to build vaults (default: a temporary directory)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one probe: checks the harness runs (CI)")
    args = parser.parse_args()
    add_n = 10_000
    if args.smoke:
        args.n, args.queries, args.repeats, add_n = 2_000, 20, 1, 500
    workdir = args.workdir or tempfile.mkdtemp(prefix="vecvault-bench-")
    os.makedirs(workdir, exist_ok=True)
    for stale in Path(workdir).glob("*.db*"):
        stale.unlink()
    try:
        rows, facts = run(args.n, args.queries, args.repeats, workdir, add_n)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    header = ["measurement", "vecvault", "reference", "reference value", "ratio", "target", "verdict"]
    table = common.markdown_table(header, rows)
    lines = [
        f"### Exact core at {args.n:,} x 384-d ({args.queries} queries, medians)",
        "",
        *common.report_preamble(DROPPED),
        "",
        table,
        "",
        f"Fresh-process open: vault {facts['open']['seconds']:.3f}s (RSS {facts['open']['rss_before']:.0f} -> "
        f"{facts['open']['rss_after']:.0f} MiB, peak {facts['open']['peak']:.0f} MiB); floor "
        f"{facts['floor']['seconds']:.3f}s (RSS {facts['floor']['rss_before']:.0f} -> "
        f"{facts['floor']['rss_after']:.0f} MiB).",
        f"Build of {args.n:,} records: {facts['build_seconds']:.1f}s.",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")


if __name__ == "__main__":
    main()
