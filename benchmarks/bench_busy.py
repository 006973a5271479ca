"""Exact search on a busy machine: how much ``Collection.search`` degrades beside CPU-bound processes.

For each N in ``--sizes`` (384-d clustered unit vectors, ~500-byte texts, small metadata, one collection
``bench``, ``index="exact"``), the vault is built once and cached under ``--data`` (its random master key
kept beside it in ``master.key``, mode 0600, never printed), opened, and loaded by one search. Then the
p50 and p90 of ``col.search(q, k=10)`` and of the numpy reference (``X @ q`` + ``argpartition`` on the
same unit-normalised float32 matrix, taken from ``col.vectors()``) are measured, interleaved query by
query:

- *quiet*: nothing else started by this script;
- *busy*: ``--hogs`` CPU-bound processes (``python -c "while True: pass"``) running beside it.

Quiet and busy passes alternate ``--rounds`` times; the samples of each condition are pooled. The report
gives busy/quiet for vecvault and for numpy and their ratio (the target: <= 1.3), for each BLAS thread
setting in ``--blas-threads`` (``default`` = as numpy starts; ``1`` = both vecvault and the numpy
reference under ``threadpoolctl.threadpool_limits(1)``, so the comparison stays fair).

``--phases`` adds a breakdown of one search into its phases, measured by wrapping the library's functions
from the outside (nothing in ``core/`` is changed): the read transaction's BEGIN and COMMIT, the freshness
check (``storage.revision``), the ranking (``VectorIndex.candidates``, with its matrix-vector product
``_scores`` apart), the fetch of the k hits (``storage.fetch``), their opening (``RecordSealer.open_texts``
/ ``open_metadatas`` / ``open_vectors_into``), the exact rescoring (``exact_scores``) and ``persist``.
Each phase reports its wall time, this thread's CPU time, its run-queue wait (``/proc/thread-self/schedstat``:
runnable but not running) and its voluntary context switches (a voluntary switch is a block: a sleep, a
lock, I/O, a futex wait). The CPU time of the process's other threads (OpenBLAS workers, the libSQL
binding's) during the timed loops is reported too: a worker that spins after a product competes with
the main thread for the cores.

Run from the repository root::

    .venv/bin/python benchmarks/bench_busy.py --sizes 20000,100000 --phases --json /tmp/busy.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import common

DROPPED = common.clean_blas_env()

import numpy as np  # noqa: E402

import vecvault.collection as collection_module  # noqa: E402
from vecvault import Vault  # noqa: E402
from vecvault.search.exact import VectorIndex  # noqa: E402

DIM = 384
K = 10
BATCH = 5_000
COLLECTION = "bench"
TARGET = 1.3
HOG_CODE = "while True: pass"


# -- the vault -------------------------------------------------------------------------------------------


def cached_vault(data_dir: Path, n: int, key: bytes) -> Path:
    """The vault of ``n`` records under ``data_dir``: reused when it holds ``n`` records, else (re)built."""
    path = data_dir / f"busy-{n}.db"
    if path.exists() and common.count_records(str(path), key, COLLECTION) == n:
        common.log(f"reusing {path.name}")
        return path
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    common.log(f"building {path.name} ({n:,} records)")
    ds = common.make_dataset(n, DIM, queries=1)
    with Vault.open(str(path), key=key, create=True) as vault:
        col = vault.collection(COLLECTION, dim=DIM, index="exact")
        for start in range(0, n, BATCH):
            m = min(BATCH, n - start)
            col.add(
                ids=[f"r{i}" for i in range(start, start + m)],
                vectors=ds.vectors[start : start + m],
                texts=common.make_texts(start, m),
                metadatas=common.metadatas(ds, start, m),
            )
        col.compact()
    return path


# -- load ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def hogs(count: int) -> Iterator[list[int]]:
    """``count`` CPU-bound child processes running for the duration; stopped by PID afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            procs.append(subprocess.Popen([sys.executable, "-c", HOG_CODE], env=common.subprocess_env()))
        time.sleep(0.5)  # let them start spinning
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@contextlib.contextmanager
def blas_threads(setting: str) -> Iterator[None]:
    """``default``: as numpy starts; a number: threadpoolctl's limit for the block (both sides)."""
    if setting == "default":
        yield
        return
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:
        raise SystemExit(
            "--blas-threads with a number needs threadpoolctl; without it run the whole script with "
            f"OPENBLAS_NUM_THREADS={setting} (then 'default' means {setting})."
        ) from None

    with threadpool_limits(limits=int(setting), user_api="blas"):
        yield


def _numpy_top(matrix: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    scores = matrix @ q
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def other_threads_cpu() -> dict[int, float]:
    """CPU seconds of every thread of this process but the main one (utime + stime)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    main = os.getpid()
    for task in Path(f"/proc/{main}/task").iterdir():
        tid = int(task.name)
        if tid == main:
            continue
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _system_busy() -> float:
    """CPU seconds all cores spent busy since boot (``/proc/stat``: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _pids_cpu(pids: Sequence[int]) -> float:
    """CPU seconds of some processes (utime + stime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _others_share(before: dict[int, float], after: dict[int, float], wall: float) -> float:
    spent = sum(after.get(t, 0.0) - before.get(t, 0.0) for t in after)
    return spent / wall if wall > 0 else float("nan")


def measure(col: Any, matrix: np.ndarray, queries: np.ndarray, threads: str, hog_pids: Sequence[int]) -> dict[str, Any]:
    """One interleaved pass: per-query ms of vecvault and numpy, the CPU share of this process's other
    threads, and the *foreign* load: cores used by processes that are neither this one nor its hogs."""
    with blas_threads(threads):
        before, t0 = other_threads_cpu(), time.perf_counter()
        system0, own0, hogs0 = _system_busy(), _own_cpu(), _pids_cpu(hog_pids)
        vault_t, numpy_t = common.time_interleaved(
            [lambda q: col.search(q, k=K), lambda q: _numpy_top(matrix, q, K)], list(queries)
        )
        wall = time.perf_counter() - t0
        foreign = (_system_busy() - system0) - (_own_cpu() - own0) - (_pids_cpu(hog_pids) - hogs0)
        share = _others_share(before, other_threads_cpu(), wall)
    return {"vault": vault_t, "numpy": numpy_t, "others_cpu_share": share, "foreign_cores": foreign / wall}


# -- phases ----------------------------------------------------------------------------------------------


class Phases:
    """Per-query accumulators of wall, CPU, run-queue wait and voluntary switches, by phase name."""

    def __init__(self) -> None:
        self._fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)  # the main thread's
        self.current: dict[str, list[float]] = {}
        self.queries: list[dict[str, list[float]]] = []

    def close(self) -> None:
        """Release the schedstat file."""
        os.close(self._fd)

    def sample(self) -> tuple[float, float, float, int]:
        """(wall s, thread CPU s, run-queue wait s, voluntary switches) now."""
        stat = os.pread(self._fd, 128, 0).split()
        usage = resource.getrusage(resource.RUSAGE_THREAD)
        return time.perf_counter(), time.thread_time(), int(stat[1]) / 1e9, usage.ru_nvcsw

    def add(self, name: str, start: tuple[float, float, float, int], end: tuple[float, float, float, int]) -> None:
        """Add one timed call of phase ``name`` to the current query."""
        acc = self.current.setdefault(name, [0.0, 0.0, 0.0, 0.0])
        for i in range(4):
            acc[i] += end[i] - start[i]

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` timed as phase ``name``."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = self.sample()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, start, self.sample())

        return timed

    def wrap_context(self, enter_name: str, exit_name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        """A context-manager factory whose enter and exit are timed apart (the body is not)."""

        @contextlib.contextmanager
        def timed() -> Iterator[None]:
            manager = fn()
            start = self.sample()
            manager.__enter__()
            self.add(enter_name, start, self.sample())
            try:
                yield
            except BaseException:
                if not manager.__exit__(*sys.exc_info()):
                    raise
            else:
                start = self.sample()
                manager.__exit__(None, None, None)
                self.add(exit_name, start, self.sample())

        return timed


# (name, what it is) in the order of a search; "rank" includes "rank: matvec"
PHASES = [
    ("BEGIN", "read transaction start (storage.snapshot enter)"),
    ("freshness", "storage.revision (rev, epoch)"),
    ("rank", "VectorIndex.candidates (all of it)"),
    ("rank: matvec", "VectorIndex._scores: X @ q"),
    ("fetch", "storage.fetch of the k hits"),
    ("open texts", "RecordSealer.open_texts"),
    ("open metadata", "RecordSealer.open_metadatas"),
    ("open vectors", "RecordSealer.open_vectors_into"),
    ("rescore", "exact_scores (float64, k rows)"),
    ("COMMIT", "read transaction end (storage.snapshot exit)"),
    ("persist", "Mirror.persist"),
    ("other", "total minus the phases above (Python glue, checks, Hit objects)"),
    ("total", "Collection.search"),
]
_TOP_LEVEL = [
    "BEGIN",
    "freshness",
    "rank",
    "fetch",
    "open texts",
    "open metadata",
    "open vectors",
    "rescore",
    "COMMIT",
    "persist",
]


@contextlib.contextmanager
def instrumented(col: Any, phases: Phases) -> Iterator[None]:
    """Wrap the phases of ``col.search`` (instance or class attributes, restored afterwards)."""
    storage = col._core.storage
    sealer = col._sealer
    mirror = col._mirror
    patches: list[tuple[Any, str, Any]] = []  # (object, attribute, its own value or None)

    def patch(obj: Any, attr: str, new: Any) -> None:
        patches.append((obj, attr, vars(obj).get(attr)))  # a class's or module's own, or an instance's own
        setattr(obj, attr, new)

    patch(storage, "snapshot", phases.wrap_context("BEGIN", "COMMIT", storage.snapshot))
    patch(storage, "revision", phases.wrap("freshness", storage.revision))
    patch(storage, "fetch", phases.wrap("fetch", storage.fetch))
    patch(sealer, "open_texts", phases.wrap("open texts", sealer.open_texts))
    patch(sealer, "open_metadatas", phases.wrap("open metadata", sealer.open_metadatas))
    patch(sealer, "open_vectors_into", phases.wrap("open vectors", sealer.open_vectors_into))
    patch(mirror, "persist", phases.wrap("persist", mirror.persist))
    patch(VectorIndex, "candidates", phases.wrap("rank", VectorIndex.candidates))
    patch(VectorIndex, "_scores", phases.wrap("rank: matvec", VectorIndex._scores))
    patch(collection_module, "exact_scores", phases.wrap("rescore", vars(collection_module)["exact_scores"]))
    try:
        yield
    finally:
        for obj, attr, old in reversed(patches):
            if old is not None:
                setattr(obj, attr, old)
            else:
                delattr(obj, attr)  # an instance: back to its class's method


def measure_phases(col: Any, matrix: np.ndarray, queries: np.ndarray, threads: str) -> dict[str, dict[str, float]]:
    """Per-phase medians over ``queries`` (ms of wall, CPU and run-queue wait; mean voluntary switches).

    The numpy reference runs (untimed) beside each search in the order of the timed passes, so the
    searches see the same rhythm of products.
    """
    phases = Phases()
    try:
        with blas_threads(threads), instrumented(col, phases):
            for q in queries[:10]:
                col.search(q, k=K)
            for i, q in enumerate(queries):
                if i % 2:
                    _numpy_top(matrix, q, K)
                phases.current = {}
                start = phases.sample()
                col.search(q, k=K)
                end = phases.sample()
                if not i % 2:
                    _numpy_top(matrix, q, K)
                total = [end[i] - start[i] for i in range(4)]
                inside = [sum(phases.current.get(p, [0.0] * 4)[i] for p in _TOP_LEVEL) for i in range(4)]
                phases.current["total"] = total
                phases.current["other"] = [total[i] - inside[i] for i in range(4)]
                phases.queries.append(phases.current)
    finally:
        phases.close()
    out: dict[str, dict[str, float]] = {}
    for name, _ in PHASES:
        rows = [q.get(name, [0.0] * 4) for q in phases.queries]
        out[name] = {
            "wall_ms": common.median(r[0] * 1000 for r in rows),
            "wall_p90_ms": common.percentile([r[0] * 1000 for r in rows], 90),
            "wall_mean_ms": sum(r[0] for r in rows) * 1000 / len(rows),
            "cpu_ms": common.median(r[1] * 1000 for r in rows),
            "runq_ms": common.median(r[2] * 1000 for r in rows),
            "runq_mean_ms": sum(r[2] for r in rows) * 1000 / len(rows),
            "vol_switches": sum(r[3] for r in rows) / len(rows),
        }
    return out


# -- running ---------------------------------------------------------------------------------------------


def summarise(samples: dict[str, list[float]], quiet: dict[str, float] | None = None) -> dict[str, float]:
    """Percentiles and mean of vecvault and numpy; with the quiet summary, the share of slow queries.

    A query is *slow* when it took more than twice the quiet p50: on a busy machine the times are
    bimodal (a query the scheduler preempts waits a whole time slice), so the p50 moves by steps as
    that share crosses one half.
    """
    out: dict[str, float] = {}
    for side in ("vault", "numpy"):
        values = samples[side]
        for p in (25, 50, 75, 90, 99):
            out[f"{side}_p{p}"] = common.percentile(values, p)
        out[f"{side}_p50"] = common.median(values)
        out[f"{side}_mean"] = sum(values) / len(values)
        if quiet is not None:
            out[f"{side}_slow"] = sum(v > 2 * quiet[f"{side}_p50"] for v in values) / len(values)
    return out


def run_size(path: Path, key: bytes, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement for one size."""
    queries = common.clustered_vectors(args.queries, DIM, part=1)
    facts: dict[str, Any] = {"n": n, "runs": {}, "phases": {}}
    with Vault.open(str(path), key=key, create=False) as vault:
        col = vault.collection(COLLECTION)
        col.search(queries[0], k=K)  # loads the collection (not timed)
        _, matrix = col.vectors()
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        for threads in args.blas_threads:
            pooled: dict[str, dict[str, list[float]]] = {
                "quiet": {"vault": [], "numpy": []},
                "busy": {"vault": [], "numpy": []},
            }
            shares: dict[str, list[float]] = {"quiet": [], "busy": []}
            foreign: dict[str, list[float]] = {"quiet": [], "busy": []}
            for r in range(args.rounds):
                for condition in ("quiet", "busy") if r % 2 == 0 else ("busy", "quiet"):
                    common.log(f"  N={n:,} threads={threads} round {r + 1}/{args.rounds}: {condition}")
                    with hogs(args.hogs if condition == "busy" else 0) as pids:
                        got = measure(col, matrix, queries, threads, pids)
                    pooled[condition]["vault"] += got["vault"]
                    pooled[condition]["numpy"] += got["numpy"]
                    shares[condition].append(got["others_cpu_share"])
                    foreign[condition].append(got["foreign_cores"])
                    if got["foreign_cores"] > 0.2:
                        foreign_now = got["foreign_cores"]
                        common.log(f"    warning: other processes used {foreign_now:.2f} cores during this pass")
            quiet = summarise(pooled["quiet"], summarise(pooled["quiet"]))
            busy = summarise(pooled["busy"], quiet)
            vault_ratio = busy["vault_p50"] / quiet["vault_p50"]
            numpy_ratio = busy["numpy_p50"] / quiet["numpy_p50"]
            facts["runs"][threads] = {
                "quiet": quiet,
                "busy": busy,
                "vault_ratio": vault_ratio,
                "numpy_ratio": numpy_ratio,
                "ratio_of_ratios": vault_ratio / numpy_ratio,
                "others_cpu_share": {c: common.median(v) for c, v in shares.items()},
                "foreign_cores": {c: max(v) for c, v in foreign.items()},
                "samples_ms": pooled,
            }
            if args.phases:
                facts["phases"][threads] = {}
                for condition in ("quiet", "busy"):
                    common.log(f"  N={n:,} threads={threads}: phases, {condition}")
                    with hogs(args.hogs if condition == "busy" else 0):
                        facts["phases"][threads][condition] = measure_phases(col, matrix, queries, threads)
    return facts


def report(all_facts: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The Markdown report."""
    lines = [
        f"### Exact search beside {args.hogs} CPU-bound processes ({args.queries} queries x {args.rounds} "
        "rounds per condition, k=10)",
        "",
        *common.report_preamble(DROPPED),
        "",
    ]
    header = [
        "N",
        "BLAS threads",
        "vecvault quiet p50/p90 ms",
        "vecvault busy p50/p90 ms",
        "numpy quiet p50/p90 ms",
        "numpy busy p50/p90 ms",
        "vecvault busy/quiet",
        "numpy busy/quiet",
        "ratio of ratios",
        "target",
        "verdict",
        "other threads' CPU quiet/busy",
        "foreign load quiet/busy (max)",
    ]
    rows = []
    for facts in all_facts:
        for threads, run in facts["runs"].items():
            q, b = run["quiet"], run["busy"]
            rr = run["ratio_of_ratios"]
            rows.append(
                [
                    f"{facts['n']:,}",
                    threads,
                    f"{q['vault_p50']:.3f} / {q['vault_p90']:.3f}",
                    f"{b['vault_p50']:.3f} / {b['vault_p90']:.3f}",
                    f"{q['numpy_p50']:.3f} / {q['numpy_p90']:.3f}",
                    f"{b['numpy_p50']:.3f} / {b['numpy_p90']:.3f}",
                    round(run["vault_ratio"], 2),
                    round(run["numpy_ratio"], 2),
                    round(rr, 2),
                    f"<= {TARGET}",
                    "met" if rr <= TARGET else "MISSED",
                    f"{run['others_cpu_share']['quiet']:.2f} / {run['others_cpu_share']['busy']:.2f} cores",
                    f"{run['foreign_cores']['quiet']:.2f} / {run['foreign_cores']['busy']:.2f} cores",
                ]
            )
    lines += [common.markdown_table(header, rows), ""]
    lines += [
        "Distribution (ms; slow = more than twice the quiet p50 of the same side; busy times are bimodal, "
        "so a p50 jumps when the slow share crosses one half):",
        "",
    ]
    header = ["N", "BLAS threads", "side", "condition", "p25", "p50", "p75", "p90", "p99", "mean", "slow share"]
    rows = []
    for facts in all_facts:
        for threads, run in facts["runs"].items():
            for side, label in (("vault", "vecvault"), ("numpy", "numpy")):
                for condition in ("quiet", "busy"):
                    got = run[condition]
                    rows.append(
                        [
                            f"{facts['n']:,}",
                            threads,
                            label,
                            condition,
                            *(f"{got[f'{side}_p{p}']:.3f}" for p in (25, 50, 75, 90, 99)),
                            f"{got[f'{side}_mean']:.3f}",
                            f"{got[f'{side}_slow']:.0%}",
                        ]
                    )
    lines += [common.markdown_table(header, rows), ""]
    for facts in all_facts:
        for threads, by_condition in facts["phases"].items():
            lines += [
                f"Phases of one search at N={facts['n']:,}, BLAS threads {threads} (medians unless said; means "
                "add up across phases, medians do not; wrappers add ~2 us per phase; run-queue = runnable but "
                "not running; vol. sw. = voluntary context switches per query, i.e. blocking):",
                "",
            ]
            header = [
                "phase",
                "quiet wall ms",
                "busy wall ms",
                "busy/quiet",
                "wall mean quiet/busy ms",
                "quiet CPU ms",
                "busy CPU ms",
                "busy run-queue ms (median / mean)",
                "vol. sw. quiet/busy",
                "what",
            ]
            rows = []
            for name, what in PHASES:
                qp, bp = by_condition["quiet"][name], by_condition["busy"][name]
                rows.append(
                    [
                        name,
                        f"{qp['wall_ms']:.3f}",
                        f"{bp['wall_ms']:.3f}",
                        round(bp["wall_ms"] / qp["wall_ms"], 2) if qp["wall_ms"] > 0 else float("nan"),
                        f"{qp['wall_mean_ms']:.3f} / {bp['wall_mean_ms']:.3f}",
                        f"{qp['cpu_ms']:.3f}",
                        f"{bp['cpu_ms']:.3f}",
                        f"{bp['runq_ms']:.3f} / {bp['runq_mean_ms']:.3f}",
                        f"{qp['vol_switches']:.2f} / {bp['vol_switches']:.2f}",
                        what,
                    ]
                )
            lines += [common.markdown_table(header, rows), ""]
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, run, print and optionally write the reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000", help="records per vault, comma-separated")
    parser.add_argument("--data", default="/tmp/vecvault-busy-bench", help="where the vaults are cached")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per pass")
    parser.add_argument("--rounds", type=int, default=2, help="quiet/busy pass pairs (alternating order)")
    parser.add_argument("--hogs", type=int, default=2, help="CPU-bound processes beside the busy passes")
    parser.add_argument(
        "--blas-threads", default="default", help="comma-separated: 'default' and/or thread counts (threadpoolctl)"
    )
    parser.add_argument("--phases", action="store_true", help="add the per-phase breakdown")
    parser.add_argument("--json", help="write the raw facts here")
    parser.add_argument("--out", help="write the Markdown report here")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the harness runs")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    args.blas_threads = [s.strip() for s in args.blas_threads.split(",") if s.strip()]
    if args.smoke:
        sizes, args.queries, args.rounds = [2_000], 30, 1
    data_dir = Path(args.data)
    data_dir.mkdir(parents=True, exist_ok=True)
    key = common.cached_master_key(data_dir)
    all_facts = []
    for n in sizes:
        path = cached_vault(data_dir, n, key)
        all_facts.append(run_size(path, key, n, args))
    text = report(all_facts, args)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.json:
        payload = {
            "blas": common.blas_info(),
            "dropped": DROPPED,
            "machine": common.machine_facts(),
            "args": {k: v for k, v in vars(args).items() if k not in ("json", "out")},
            "sizes": all_facts,
        }
        Path(args.json).write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()
