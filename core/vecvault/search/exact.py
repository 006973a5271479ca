"""Exact search: every record of the mirror scored against the query (one matrix-vector product)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vecvault.index import VectorIndex
from vecvault.search.base import Query, Ranked

__all__ = ["ExactSearcher"]


class ExactSearcher:
    """Exact top-k over the mirror's matrix, among the rows a filter's mask keeps."""

    def __init__(self, index: VectorIndex, mask: npt.NDArray[np.bool_] | None) -> None:
        self._index = index
        self._mask = mask

    def top(self, query: Query, n: int) -> Ranked:
        """The exact ``n`` best records."""
        scored = self._index.search(query, n, self._mask)
        ids = self._index.ids
        return Ranked([(ids[s.row], s.score) for s in scored], self._index)

    def diverse(self, query: Query, k: int, fetch_k: int, lambda_mult: float) -> Ranked:
        """MMR among the exact ``fetch_k`` best."""
        scored = self._index.search_mmr(query, k, fetch_k, lambda_mult, self._mask)
        return Ranked([(self._index.ids[s.row], s.score) for s in scored], self._index)

    def finish(self) -> None:
        """Nothing to do after the snapshot."""
