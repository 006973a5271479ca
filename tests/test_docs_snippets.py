"""Every Python sample in README.md and docs/*.md runs as written.

Each file's Python blocks run in order in one fresh interpreter, in an empty directory, the way a reader
pastes them into one session. The only stand-ins are the models, declared once in :data:`PRELUDE`:
``embeddings`` (a LangChain ``Embeddings``), ``embed_model`` (a LlamaIndex embedding) and ``llm`` (a
LlamaIndex LLM, also set as ``Settings.llm``). Everything else is real: the vault files, the key
providers, a local libSQL server (``VECVAULT_URL``) for the files that talk to one.

The samples run in both settings a newcomer has: ``VECVAULT_KEY`` set on a box with no keychain, and a
real keychain with nothing set (under ``scripts/with-secret-service.sh``, as CI runs the suite). A block
right after ``<!-- no-run: REASON -->`` is skipped, with its reason in the test output; it is for
samples that need what no test can have (a Turso Cloud database).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
import json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
exec(compile(sys.argv[2], "<prelude>", "exec"), namespace)
for block in blocks:
    # Padded so a traceback names the line in the Markdown file.
    exec(compile("\\n" * (block["line"] - 1) + block["code"], block["file"], "exec"), namespace)
"""


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


def _run(path: Path, tmp_path: Path, env: dict[str, str]) -> None:
    runnable = [b for b in blocks_of(path) if b.skip is None]
    skipped = [f"{b.file}:{b.line} ({b.skip})" for b in blocks_of(path) if b.skip is not None]
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
    assert result.returncode == 0, f"a sample in {path.name} failed:\n{result.stderr[-4000:]}"
    if skipped:
        print(f"{path.name}: not run: {'; '.join(skipped)}")


def _server_env(path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], object | None]:
    if path.name not in REMOTE_DOCUMENTS:
        return {}, None
    from tests.remote.conftest import SqldServer, sqld_binary

    server = SqldServer(sqld_binary(), tmp_path_factory.mktemp("docs-sqld") / "data")
    server.start()
    return {"VECVAULT_URL": server.url}, server


@pytest.mark.parametrize("path", _documents_with_samples(), ids=lambda p: p.name)
def test_samples_run_with_vecvault_key_and_no_keychain(
    path: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    extra, server = _server_env(path, tmp_path_factory)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECVAULT_")}
    env |= {"VECVAULT_KEY": base64.b64encode(os.urandom(32)).decode(), **extra}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # a headless box: no keychain at all
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


def test_the_block_finder_sees_every_python_fence() -> None:
    for path in DOCUMENTS:
        assert len(blocks_of(path)) == path.read_text().count("```python\n"), path.name
