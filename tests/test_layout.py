"""Packaging rules from DESIGN.md section 2: import isolation, namespace packages, public API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import vecvault

ROOT = Path(__file__).resolve().parents[1]


def test_import_vecvault_imports_no_framework() -> None:
    code = (
        "import sys; import vecvault, vecvault.keys, vecvault.filters, vecvault.index, vecvault.crypto; "
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


def test_namespace_packages_have_no_init() -> None:
    assert not (ROOT / "integrations" / "llama_index" / "__init__.py").exists()
    assert not (ROOT / "integrations" / "llama_index" / "vector_stores" / "__init__.py").exists()
    assert not (ROOT / "tests" / "llama_index").exists()


def test_every_package_ships_py_typed() -> None:
    for package in (
        ROOT / "core" / "vecvault",
        ROOT / "integrations" / "langchain_vecvault",
        ROOT / "integrations" / "llama_index" / "vector_stores" / "vecvault",
    ):
        assert (package / "py.typed").exists(), package


def test_public_all_is_complete_and_importable() -> None:
    for name in vecvault.__all__:
        assert hasattr(vecvault, name), name
    public = {n for n in dir(vecvault) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(vecvault.__all__), public - set(vecvault.__all__)
