"""Bounded load on one local vault: threads and asyncio tasks mixing add, search and delete (marked slow).

The same run is a script printing the figures: ``.venv/bin/python benchmarks/load_test.py --seconds 10``.
No timed assertion: only errors and the exact final state are checked.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load_test.py"


def load_module() -> ModuleType:
    """Import benchmarks/load_test.py (benchmarks is not a package)."""
    spec = importlib.util.spec_from_file_location("vecvault_load_test", _SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_mixed_load_on_a_local_file(tmp_path: Path) -> None:
    load = load_module()
    report = load.run_load(str(tmp_path / "load.db"), key=os.urandom(32), seconds=5.0, workers=3)
    print("\n".join(report.lines()))
    assert report.errors == []
    assert report.problems == []
    assert report.ops["add"] > 0
    assert report.ops["search"] > 0
    assert report.ops["delete"] > 0
