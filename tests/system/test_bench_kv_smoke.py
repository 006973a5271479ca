"""The key-value benchmark runs end to end in smoke mode and prints its table (no timing assertions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_kv_bench_smoke_prints_every_store() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "core"), str(ROOT / "integrations")])
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_kv.py"), "--smoke"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    for row in (
        "| vecvault VecVaultByteStore (file encryption on) |",
        "| SQLite table, unencrypted (libsql binding) | ",
        "| LangChain LocalFileStore |",
    ):
        assert row in proc.stdout
    assert "target: vecvault within 3x" in proc.stdout
