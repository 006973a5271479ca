"""Retrieval modes of the LangChain store: dense (vectors), text (BM25 over the sealed texts) or hybrid (both).

A search method takes ``retrieval_mode=`` and, for ``"hybrid"``, the fusion options of
:meth:`vecvault.Collection.search_hybrid` as keyword arguments; the store's constructor sets the default
mode. Pure helpers: nothing here touches the vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vecvault import ConfigurationError
from vecvault.search.fusion import hybrid_alpha

__all__ = [
    "HYBRID_OPTIONS",
    "RETRIEVAL_MODES",
    "RETRIEVAL_OPTIONS",
    "Retrieval",
    "check_retrieval_mode",
    "pop_retrieval",
]

RETRIEVAL_MODES = ("dense", "text", "hybrid")
HYBRID_OPTIONS = ("fusion", "alpha", "dense_k", "text_k")
RETRIEVAL_OPTIONS = ("retrieval_mode", *HYBRID_OPTIONS)


def check_retrieval_mode(mode: object) -> str:
    """``mode`` if it is one of :data:`RETRIEVAL_MODES`."""
    if not isinstance(mode, str) or mode not in RETRIEVAL_MODES:
        raise ConfigurationError(f"Invalid retrieval_mode: {mode!r}. Expected one of {list(RETRIEVAL_MODES)}.")
    return mode


@dataclass(frozen=True)
class Retrieval:
    """How one search retrieves: the mode and the hybrid fusion options (passed to ``search_hybrid``)."""

    mode: str
    hybrid: dict[str, Any]


def pop_retrieval(kwargs: dict[str, Any], default_mode: str) -> Retrieval:
    """Take ``retrieval_mode`` and the hybrid options out of a search method's ``kwargs``.

    Raises:
        ConfigurationError: an unknown mode, a hybrid option given to another mode, or a bad fusion or
            ``alpha`` (checked here, before the query is embedded).
    """
    mode = check_retrieval_mode(kwargs.pop("retrieval_mode", None) or default_mode)
    hybrid = {name: kwargs.pop(name) for name in HYBRID_OPTIONS if name in kwargs}
    if hybrid and mode != "hybrid":
        raise ConfigurationError(
            f"{sorted(hybrid)} apply to retrieval_mode='hybrid', not {mode!r}; pass retrieval_mode='hybrid'."
        )
    if mode == "hybrid":
        hybrid_alpha(hybrid.get("fusion", "rrf"), hybrid.get("alpha"))
    return Retrieval(mode, hybrid)
