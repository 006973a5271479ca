"""Packaging rules from DESIGN.md section 2: import isolation, namespace packages, public API."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import vecvault

ROOT = Path(__file__).resolve().parents[2]


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


def _pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def test_the_wheel_ships_the_demo_corpus_with_its_licence() -> None:
    """`vecvault demo` from a wheel reads the corpus that pyproject force-includes where the demo looks."""
    from vecvault import demo

    force = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    shipped = {Path(dest).name: ROOT / source for source, dest in force.items()}
    assert set(shipped) == {demo.CORPUS_FILE, "LICENSE", "README.md"}
    assert {Path(dest).parent.as_posix() for dest in force.values()} == {f"vecvault/{demo.PACKAGED_CORPUS}"}
    for path in shipped.values():
        assert path.is_file(), path
    assert "PSF LICENSE AGREEMENT" in shipped["LICENSE"].read_text(encoding="utf-8")
    sdist = _pyproject()["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert "data/corpus" in sdist  # a wheel built from the sdist has it too


def test_the_demo_finds_the_packaged_corpus_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vecvault import demo

    assert demo.default_corpus() == ROOT / "data" / "corpus" / demo.CORPUS_FILE  # a checkout: the source tree
    packaged = tmp_path / "vecvault" / demo.PACKAGED_CORPUS / demo.CORPUS_FILE
    packaged.parent.mkdir(parents=True)
    packaged.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(demo.importlib.resources, "files", lambda package: tmp_path / package)
    assert demo.default_corpus() == packaged  # an installed wheel: the package data


REPO = "https://github.com/vecvault/vecvault"
BLOB = f"{REPO}/blob/main/"
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _blob_target(url: str) -> Path:
    return ROOT / url.removeprefix(BLOB).split("#")[0]


def test_project_urls_point_at_the_repository() -> None:
    urls = _pyproject()["project"]["urls"]
    assert set(urls) == {"Homepage", "Documentation", "Source", "Changelog", "Issues"}
    assert urls["Issues"] == f"{REPO}/issues"
    for url in urls.values():
        assert url.startswith(REPO), url
        if url.startswith(BLOB):
            assert _blob_target(url).is_file(), url


def test_readme_links_work_on_pypi() -> None:
    """PyPI renders the README without the repository: every link is absolute, and blob links exist."""
    links = MARKDOWN_LINK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert links
    for link in links:
        if link.startswith("#"):
            continue
        assert re.match(r"https?://", link), f"relative link in README.md: {link}"
        if link.startswith(BLOB):
            assert _blob_target(link).exists(), link


def test_dependency_bounds() -> None:
    """Every dependency has a lower bound (scripts/test-bounds.sh tests it) and none is pinned exactly."""
    config = _pyproject()
    project = config["project"]
    extras = [r for reqs in project["optional-dependencies"].values() for r in reqs if not r.startswith("vecvault[")]
    requirements = project["dependencies"] + extras
    for requirement in requirements:
        assert ">=" in requirement, requirement
        assert "==" not in requirement, requirement  # e.g. an exact torch build belongs in scripts/setup.sh
    by_name = {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0]: r for r in requirements}
    for name in ("libsql", "langchain-core", "llama-index-core", "torch"):  # upstream breaks on minor releases
        assert "<" in by_name[name], by_name[name]
    assert any(r.startswith("hatchling>=1.27") for r in config["build-system"]["requires"])
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert setup.index("torch==2.13.0") < setup.index('-e ".[all,ann,progress,examples]"')
