"""Packaging rules of DESIGN.md section 2 for the sealed companion stores: namespace packages, py.typed, isolation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("kvstore", "docstore", "index_store", "chat_store")


def test_storage_namespace_packages_have_no_init() -> None:
    storage = ROOT / "integrations" / "llama_index" / "storage"
    assert not (storage / "__init__.py").exists()
    for kind in KINDS:
        assert not (storage / kind / "__init__.py").exists(), kind
        assert (storage / kind / "vecvault" / "__init__.py").exists(), kind
        assert (storage / kind / "vecvault" / "py.typed").exists(), kind


def test_core_companions_import_no_framework() -> None:
    code = (
        "import sys; import vecvault.kv, vecvault.integration; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('langchain_core', 'langchain', 'llama_index')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "core"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_the_vecvault_stores_sit_beside_llama_index_core(kind: str) -> None:
    """Our namespace folders hide neither llama-index-core's storage package nor each other."""
    code = (
        f"import llama_index.storage.{kind}.vecvault as ours, llama_index.vector_stores.vecvault, "
        "llama_index.core.storage.kvstore; print(ours.__file__)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{ROOT / 'core'}:{ROOT / 'integrations'}", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(ROOT / "integrations" / "llama_index" / "storage" / kind / "vecvault") in proc.stdout
