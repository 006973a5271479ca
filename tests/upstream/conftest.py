"""Fixtures for the ported upstream suites: a fresh vault per test, in place of a server or a client.

Upstream tests build their store on a database connection (PGVector), a client (Chroma) or nothing
(in-memory stores); the ports pass ``vault=`` instead, which is the one change most of them need.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from vecvault import Vault


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    """An empty vault in tmp_path under a random key, closed after the test."""
    opened = Vault.open(tmp_path / "upstream.db", key=os.urandom(32))
    try:
        yield opened
    finally:
        opened.close()
