"""Fixtures shared by the core tests: a random master key and fresh vault files that are closed after use."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vecvault import Vault
from vecvault.keys import StaticKeyProvider


@pytest.fixture
def master_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def key_provider(master_key: bytes) -> StaticKeyProvider:
    return StaticKeyProvider(master_key)


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "vault.db"


@pytest.fixture
def open_vault(vault_path: Path, key_provider: StaticKeyProvider) -> Iterator[Callable[..., Vault]]:
    """Open (or reopen) the test's vault file; every vault opened is closed at teardown."""
    opened: list[Vault] = []

    def _open(**kwargs: Any) -> Vault:
        kwargs.setdefault("key", key_provider)
        vault = Vault.open(kwargs.pop("path", vault_path), **kwargs)
        opened.append(vault)
        return vault

    try:
        yield _open
    finally:
        for vault in opened:
            vault.close()


@pytest.fixture
def vault(open_vault: Callable[..., Vault]) -> Vault:
    return open_vault()
