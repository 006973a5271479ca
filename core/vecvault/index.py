"""The exact vector index, scores per metric and maximal marginal relevance (the stable import path).

Implemented in :mod:`vecvault.search.exact`, :mod:`vecvault.search.scores` and :mod:`vecvault.search.mmr`.
"""

from __future__ import annotations

from vecvault.search.exact import Mask, Matrix, ScoredRow, VectorIndex
from vecvault.search.mmr import maximal_marginal_relevance
from vecvault.search.scores import METRICS, distance, exact_scores, normalize_metric, relevance, similarity

__all__ = [
    "METRICS",
    "Mask",
    "Matrix",
    "ScoredRow",
    "VectorIndex",
    "distance",
    "exact_scores",
    "maximal_marginal_relevance",
    "normalize_metric",
    "relevance",
    "similarity",
]
