"""The sealed key-value store against unencrypted peers: ``mget``/``mset`` of 1k values of 1 KiB, batches of 100.

Prints one table, every row measured in the same run on the same values:

- ``VecVaultByteStore`` (keys and values sealed, keys found by an HMAC blind index), with libSQL file
  encryption on (the default) and off;
- an unencrypted SQLite key-value table (``key TEXT PRIMARY KEY, value BLOB``, WAL, ``synchronous=NORMAL``,
  one transaction per batch, ``WHERE key IN (...)`` reads), through the same libSQL binding vecvault uses
  and through Python's ``sqlite3`` module;
- LangChain's ``LocalFileStore`` (one file per key).

The target (issue "Everything the frameworks persist, sealed"): the vault within 3x of the unencrypted
SQLite table. Run from the repository root::

    .venv/bin/python benchmarks/bench_kv.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import libsql

VALUES = 1_000
VALUE_BYTES = 1024
BATCH = 100
TARGET_RATIO = 3.0


class KV(Protocol):
    def mset(self, pairs: Sequence[tuple[str, bytes]]) -> None: ...
    def mget(self, keys: Sequence[str]) -> list[bytes | None]: ...
    def close(self) -> None: ...


class SqlTable:
    """A plain key-value table: what an application would write without vecvault."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"):
            conn.execute(pragma).fetchall()
        conn.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)").fetchall()

    def mset(self, pairs: Sequence[tuple[str, bytes]]) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", list(pairs))
        self.conn.execute("COMMIT")

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        marks = ",".join("?" * len(keys))
        rows = self.conn.execute(f"SELECT key, value FROM kv WHERE key IN ({marks})", tuple(keys)).fetchall()
        found = dict(rows)
        return [found.get(k) for k in keys]

    def close(self) -> None:
        self.conn.close()


def _vault(path: Path, *, file_encryption: bool) -> KV:
    from langchain_vecvault import VecVaultByteStore

    return VecVaultByteStore(path=path, key=os.urandom(32), file_encryption=None if file_encryption else False)


def _local_file_store(path: Path) -> KV:
    from langchain_classic.storage import LocalFileStore

    store = LocalFileStore(path)
    store.close = lambda: None  # type: ignore[attr-defined]
    return store  # type: ignore[return-value]


ENGINES: dict[str, Callable[[Path], KV]] = {
    "vecvault VecVaultByteStore (file encryption on)": lambda d: _vault(d / "v.db", file_encryption=True),
    "vecvault VecVaultByteStore (file encryption off)": lambda d: _vault(d / "v.db", file_encryption=False),
    "SQLite table, unencrypted (libsql binding)": lambda d: SqlTable(
        libsql.connect(str(d / "t.db"), isolation_level=None)
    ),
    "SQLite table, unencrypted (sqlite3 module)": lambda d: SqlTable(sqlite3.connect(d / "t.db", isolation_level=None)),
    "LangChain LocalFileStore": lambda d: _local_file_store(d / "files"),
}
BASELINE = "SQLite table, unencrypted (libsql binding)"


def measure(make: Callable[[Path], KV], pairs: list[tuple[str, bytes]], repeats: int) -> tuple[float, float]:
    """Median seconds to mset and to mget every pair in batches of BATCH, each repeat on a fresh store."""
    sets, gets = [], []
    for _ in range(repeats):
        folder = Path(tempfile.mkdtemp(prefix="vv-bench-kv-"))
        try:
            store = make(folder)
            try:
                start = time.perf_counter()
                for i in range(0, len(pairs), BATCH):
                    store.mset(pairs[i : i + BATCH])
                sets.append(time.perf_counter() - start)
                keys = [k for k, _ in pairs]
                start = time.perf_counter()
                for i in range(0, len(keys), BATCH):
                    got = store.mget(keys[i : i + BATCH])
                    assert got == [v for _, v in pairs[i : i + BATCH]]
                gets.append(time.perf_counter() - start)
            finally:
                store.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return statistics.median(sets), statistics.median(gets)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="one repeat (CI)")
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    rng = os.urandom
    pairs = [(f"doc/{i:05d}/{rng(6).hex()}", rng(VALUE_BYTES)) for i in range(VALUES)]
    results = {name: measure(make, pairs, repeats) for name, make in ENGINES.items()}
    base_set, base_get = results[BASELINE]
    print(f"### Key-value stores: {VALUES:,} values of {VALUE_BYTES} bytes, batches of {BATCH} (median of {repeats})")
    print()
    print("| store | mset ms | mget ms | mset vs SQLite table | mget vs SQLite table |")
    print("|---|---:|---:|---:|---:|")
    for name, (set_s, get_s) in results.items():
        print(f"| {name} | {set_s * 1e3:.1f} | {get_s * 1e3:.1f} | {set_s / base_set:.2f}x | {get_s / base_get:.2f}x |")
    print()
    worst = max(max(results[n][0] / base_set, results[n][1] / base_get) for n in results if n.startswith("vecvault"))
    verdict = "met" if worst <= TARGET_RATIO else "MISSED"
    print(f"target: vecvault within {TARGET_RATIO:.0f}x of the unencrypted SQLite table ({BASELINE}): {verdict} "
          f"(worst ratio {worst:.2f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
