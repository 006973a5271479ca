"""The class docstring's examples run, in order, and print what the docstring says they print."""

from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import io
import os
import re
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

import langchain_vecvault
from langchain_vecvault import VecVaultVectorStore

SECTIONS = [
    "Setup:",
    "Instantiate:",
    "Add Documents:",
    "Delete Documents:",
    "Search:",
    "Search with filter:",
    "Search with score:",
    "Async:",
    "Use as Retriever:",
]
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    doc = VecVaultVectorStore.__doc__ or ""
    return [(lang, _dedent(body)) for lang, body in _BLOCK.findall(doc)]


def _dedent(body: str) -> str:
    lines = body.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines).strip() + "\n"


def test_docstrings_have_the_langchain_sections() -> None:
    doc = VecVaultVectorStore.__doc__ or ""
    for section in SECTIONS:
        assert f"\n    {section}\n" in doc, section
    assert langchain_vecvault.__doc__
    assert langchain_vecvault.vectorstores.__doc__


async def test_docstring_examples_run_and_print_what_they_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VECVAULT_KEY", base64.b64encode(os.urandom(32)).decode())  # the docstring's default key
    namespace: dict[str, Any] = {}
    blocks = _blocks()
    assert sum(1 for lang, _ in blocks if lang == "python") >= 9
    outputs: list[tuple[str, str]] = []
    try:
        for lang, body in blocks:
            if lang == "bash":
                continue
            if lang == "text":
                assert outputs, "an output block must follow a python block"
                outputs[-1] = (outputs[-1][0], body)
                continue
            code: CodeType = compile(body, "<docstring>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                result = eval(code, namespace)
                if asyncio.iscoroutine(result):
                    await result
            outputs.append((buffer.getvalue(), ""))
        compared = [(printed, expected) for printed, expected in outputs if expected]
        assert len(compared) >= 5
        for printed, expected in compared:
            assert printed == expected
    finally:
        store = namespace.get("vector_store")
        if store is not None:
            store.close()
    assert os.path.exists(tmp_path / "langchain_demo.db")
