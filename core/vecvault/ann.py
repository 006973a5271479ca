"""The HNSW graph behind ``index="hnsw"`` (the stable import path; implemented in :mod:`vecvault.search.graph`)."""

from __future__ import annotations

from vecvault.search.graph import (
    DEFAULT_EF,
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_M,
    EXACT_FILTER_FRACTION,
    HnswIndex,
    available,
)

__all__ = ["DEFAULT_EF", "DEFAULT_EF_CONSTRUCTION", "DEFAULT_M", "EXACT_FILTER_FRACTION", "HnswIndex", "available"]
