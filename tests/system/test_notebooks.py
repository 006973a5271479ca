"""The notebooks are committed clean and follow the house rules; ``pytest --nbmake notebooks/`` executes them.

Executing them is nbmake's job (it runs each notebook in its own directory with the current interpreter's
``python3`` kernel); this file checks, fast and without a kernel, what execution cannot: that outputs are
stripped in git, and that every notebook is offline, works in a temporary directory and cleans up.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
EXPECTED = {
    "langchain_rag",
    "llamaindex_agent_memory",
    "security_walkthrough",
    "performance",
    "sealed_companion_stores",
}


def test_the_expected_notebooks_exist() -> None:
    assert {p.stem for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_clean_offline_and_cleans_up(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "strip outputs before committing"
    source = "\n".join(c.source for c in code)
    assert 'os.environ["HF_HUB_OFFLINE"] = "1"' in source
    assert "tempfile.TemporaryDirectory" in source
    assert nb.cells[-1].cell_type == "code"
    assert "workdir.cleanup()" in nb.cells[-1].source
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()]
    assert "## Clean up" in headings


def test_langchain_notebook_follows_the_integration_outline() -> None:
    nb = nbformat.read(next(p for p in NOTEBOOKS if p.stem == "langchain_rag"), as_version=4)
    headings = [
        line.lstrip("#").strip()
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("#")
    ]
    for expected in (
        "Instantiation",
        "Manage vector store",
        "Add items to vector store",
        "Update items in vector store",
        "Delete items from vector store",
        "Query vector store",
        "Query directly",
        "Query by turning into retriever",
        "Usage for retrieval-augmented generation",
        "API reference",
        "Clean up",
    ):
        assert expected in headings
