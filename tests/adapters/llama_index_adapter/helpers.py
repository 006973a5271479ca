"""Test helpers: a deterministic, offline embedding model and subprocess plumbing.

``HashEmbedding`` hashes each lower-cased word into a signed bucket (feature hashing), so texts that share
words get similar vectors and retrieval is meaningful without downloading a model.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field

REPO = Path(__file__).resolve().parents[3]
_WORD = re.compile(r"[a-z0-9]+")


class HashEmbedding(BaseEmbedding):
    """Bag-of-words feature hashing into ``dim`` signed buckets, L2-normalised. Deterministic across processes."""

    dim: int = Field(default=64, gt=0)

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"

    def _embed(self, text: str) -> list[float]:
        vector = np.zeros(self.dim, dtype=np.float64)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "big")
            vector[value % self.dim] += 1.0 if (value >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0] = 1.0
            norm = 1.0
        return (vector / norm).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._embed(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed(text)


def run_python(code: str, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 120.0) -> str:
    """Run ``code`` in a fresh interpreter with the repo's import paths; return stdout, fail on error.

    Secrets (the test key) go through ``extra_env``, never argv.
    """
    env = dict(os.environ)
    env.update(extra_env or {})
    paths = [str(REPO / "core"), str(REPO / "integrations"), str(REPO)]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(REPO),
        check=False,
    )
    assert done.returncode == 0, f"subprocess failed:\n{done.stderr[-4000:]}"
    return done.stdout
