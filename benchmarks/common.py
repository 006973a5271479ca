"""Shared helpers of the benchmark scripts: synthetic data, timing, memory, environment and tables.

Nothing here is imported by the library; the scripts in this directory put ``core/`` and
``integrations/`` on ``sys.path`` themselves, so they run from a checkout without installing.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "core", ROOT / "integrations"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

# Set on this machine for other tools; they select a slower OpenBLAS kernel. Benchmarks drop them from
# their own process only (see clean_blas_env); tests and CI keep their environment untouched.
BLAS_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_REEXEC_FLAG = "VECVAULT_BENCH_REEXEC"


def clean_blas_env() -> dict[str, str]:
    """Re-exec the current script without the OpenBLAS overrides, once; return what was dropped.

    Must run before numpy is imported. The dropped values are passed along in ``VECVAULT_BENCH_DROPPED``
    so the report can say what changed.
    """
    dropped = {k: os.environ[k] for k in BLAS_ENV_VARS if k in os.environ}
    if dropped and os.environ.get(_REEXEC_FLAG) != "1":
        env = {k: v for k, v in os.environ.items() if k not in BLAS_ENV_VARS}
        env[_REEXEC_FLAG] = "1"
        env["VECVAULT_BENCH_DROPPED"] = ",".join(f"{k}={v}" for k, v in dropped.items())
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    text = os.environ.get("VECVAULT_BENCH_DROPPED", "")
    return dict(item.split("=", 1) for item in text.split(",") if item)


def subprocess_env() -> dict[str, str]:
    """The environment for benchmark child processes: this one's, without the OpenBLAS overrides."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_ENV_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "core"), str(ROOT / "integrations"), env.get("PYTHONPATH", "")])
    return env


def blas_info() -> str:
    """Which BLAS library, kernel (core type) and thread count numpy runs, via threadpoolctl if present."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (kernel not reported)"
    import numpy  # noqa: F401  (load numpy's BLAS before asking)

    parts = []
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            parts.append(
                f"{pool.get('internal_api')} {pool.get('version')} kernel={pool.get('architecture')} "
                f"threads={pool.get('num_threads')}"
            )
    return "; ".join(parts) or "no BLAS pool found"


def machine_facts() -> dict[str, str]:
    """CPU, cores, memory, Python and library versions for the results file."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    import numpy

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "os": platform.platform(),
    }


# -- synthetic data ----------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Clustered unit vectors with queries drawn from the same clusters, texts and metadata."""

    vectors: Any  # (n, dim) float32, unit rows
    queries: Any  # (q, dim) float32, unit rows
    topic: Any  # (n,) int: 10 values, each ~10% of rows
    shard: Any  # (n,) int: 1000 values, each ~0.1% of rows


def clustered_vectors(
    n: int, dim: int, *, clusters: int = 100, seed: int = 0, spread: float = 0.6, part: int = 0
) -> Any:
    """``n`` unit float32 vectors from ``clusters`` gaussian clusters (same centers for the same seed).

    ``part`` selects an independent draw around the same centers (0 for data, 1 for queries).
    """
    import numpy as np

    centers = np.random.default_rng(seed).standard_normal((clusters, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    rng = np.random.default_rng((seed, part))
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        labels = rng.integers(0, clusters, m)
        block = centers[labels] + rng.standard_normal((m, dim), dtype=np.float32) * np.float32(spread / dim**0.5)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + m] = block
    return out


def make_dataset(n: int, dim: int = 384, queries: int = 200, seed: int = 0) -> Dataset:
    """Vectors, queries and the two categorical metadata columns used by every benchmark."""
    import numpy as np

    rng = np.random.default_rng((seed, 2))
    return Dataset(
        vectors=clustered_vectors(n, dim, seed=seed),
        queries=clustered_vectors(queries, dim, seed=seed, part=1),
        topic=rng.integers(0, 10, n),
        shard=rng.integers(0, 1000, n),
    )


_WORDS = (  # noqa: SIM905
    "vault sealed vector record private local index query filter cluster memory note customer source "
    "code chat history embedding search recall latency throughput graph key nonce cipher tag table row "
    "column batch commit open close reopen merge split token model answer question context window agent"
).split()


def make_texts(start: int, count: int, size: int = 500, seed: int = 0) -> list[str]:
    """``count`` ASCII texts of about ``size`` bytes (record ``start + i`` gets text ``i``)."""
    import numpy as np

    rng = np.random.default_rng((seed, 3))
    corpus = " ".join(rng.choice(_WORDS, 40_000).tolist())
    offsets = np.random.default_rng((seed, 4, start)).integers(0, len(corpus) - size, count)
    return [f"doc {start + i}: {corpus[o : o + size - 12]}" for i, o in enumerate(offsets.tolist())]


def metadatas(ds: Dataset, start: int, count: int) -> list[dict[str, Any]]:
    """Metadata dicts: ``topic`` (10% per value), ``shard`` (0.1% per value) and the row number."""
    return [{"topic": f"t{int(ds.topic[i])}", "shard": int(ds.shard[i]), "row": i} for i in range(start, start + count)]


# -- measuring ---------------------------------------------------------------------------------------------


def time_queries(fn: Callable[[Any], Any], queries: Sequence[Any], warmup: int = 10) -> list[float]:
    """Per-query wall times in milliseconds, after ``warmup`` untimed calls."""
    return time_interleaved([fn], queries, warmup)[0]


def time_interleaved(
    fns: Sequence[Callable[[Any], Any]], queries: Sequence[Any], warmup: int = 10
) -> list[list[float]]:
    """Per-query wall times (ms) of several functions, run query by query in rotating order.

    Interleaving gives every function the same share of whatever else the machine is doing, so their
    ratios stay meaningful on a busy machine even when absolute times drift.
    """
    for q in queries[:warmup]:
        for fn in fns:
            fn(q)
    out: list[list[float]] = [[] for _ in fns]
    for i, q in enumerate(queries):
        for j in range(len(fns)):
            which = (i + j) % len(fns)
            t0 = time.perf_counter()
            fns[which](q)
            out[which].append((time.perf_counter() - t0) * 1000.0)
    return out


def median(values: Iterable[float]) -> float:
    """The median."""
    return statistics.median(list(values))


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(p / 100.0 * (len(ordered) - 1))))
    return ordered[rank]


def rss_mib() -> float:
    """Current resident set size of this process, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def peak_rss_mib() -> float:
    """Peak resident set size of this process image, MiB (``VmHWM``: unlike ``ru_maxrss`` it does not
    inherit the parent's peak across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def dir_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes on disk of a file (with its -wal/-shm siblings) or of a directory tree."""
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    total = 0
    for suffix in ("", "-wal", "-shm", "-journal"):
        q = Path(str(p) + suffix)
        if q.exists():
            total += q.stat().st_size
    return total


def run_json(args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 3600) -> dict[str, Any]:
    """Run a child Python process that prints one JSON object on its last stdout line; return it."""
    import json

    proc = subprocess.run(
        [sys.executable, *args], env=env or subprocess_env(), capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report_preamble(dropped: dict[str, str]) -> list[str]:
    """The lines every report starts with: the exact command, the machine and the BLAS kernel that ran."""
    machine = machine_facts()
    return [
        "Command: `" + " ".join([os.path.relpath(sys.executable), *sys.argv]) + "`",
        "",
        "Machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()),
        "",
        f"BLAS: {blas_info()}; dropped from the benchmark's own environment: {dropped or 'nothing'}",
    ]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(c) for c in row) + " |")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def open_probes(path: str, env: dict[str, str], repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median (by time) of ``repeats`` fresh-process runs of ``probe_open.py``: the vault open, then its floor.

    The two alternate in order from one repeat to the next, so neither always runs on a warmer cache.
    """
    script = str(Path(__file__).with_name("probe_open.py"))
    runs: dict[str, list[dict[str, Any]]] = {"vault": [], "floor": []}
    for i in range(repeats):
        for mode in ("vault", "floor") if i % 2 == 0 else ("floor", "vault"):
            runs[mode].append(run_json([script, mode, path, "bench"], env))
    pick = {m: sorted(r, key=lambda x: x["seconds"])[len(r) // 2] for m, r in runs.items()}
    return pick["vault"], pick["floor"]


def log(message: str) -> None:
    """Progress on stderr (stdout carries only the report)."""
    print(message, file=sys.stderr, flush=True)


def cached_master_key(data_dir: Path) -> bytes:
    """The cached vaults' master key: read from ``data_dir/master.key``, or created there (0600) on first use."""
    path = data_dir / "master.key"
    if path.exists():
        key = bytes.fromhex(path.read_text().strip())
        if len(key) == 32:
            return key
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    return key


def count_records(location: str, key: bytes, collection: str) -> int | None:
    """Records in ``collection`` of the vault at ``location``; None when it does not open (rebuild it)."""
    from vecvault import Vault

    try:
        with Vault.open(location, key=key, create=False) as vault:
            return next((c.count for c in vault.collection_info() if c.name == collection), None)
    except Exception:  # any failure means "rebuild"
        return None
