"""Fixtures shared by the system tests."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env() -> dict[str, str]:
    """The environment of a child process: a fresh random VECVAULT_KEY and the core on its path."""
    out = dict(os.environ)
    out["VECVAULT_KEY"] = base64.b64encode(os.urandom(32)).decode()
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT / "core"), out.get("PYTHONPATH", "")])
    return out
