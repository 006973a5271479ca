"""The interface every way of ranking a collection's records implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from vecvault.search.exact import VectorIndex

__all__ = ["Page", "Ranked", "Searcher", "StaleSourceError"]

Query = npt.NDArray[np.float32]

# One page of a collection's records as a loader hands them over: ids, their authenticated write versions,
# their vectors as indexed (unit length for cosine) and, when asked for, their opened metadata.
Page = tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.float32], "list[dict[str, Any]] | None"]


class StaleSourceError(Exception):
    """A cached source of pages (a stored snapshot) turned out unusable midway: load from the records."""


@dataclass(frozen=True)
class Ranked:
    """Records ranked for one query, best first.

    Attributes:
        hits: ``(record id, score)`` pairs; the score is a similarity (higher is better,
            :mod:`vecvault.index` defines it per metric).
        ranked_by: the in-memory index whose opened vectors ranked them, so a hit can be checked to be of
            the write whose text and metadata are returned; None where libSQL ranked them.
    """

    hits: list[tuple[str, float]]
    ranked_by: VectorIndex | None = field(default=None, repr=False)


class Searcher(Protocol):
    """Ranks a collection's records (already filtered, if a filter was given) for a query."""

    def top(self, query: Query, n: int) -> Ranked:
        """The ``n`` best records (``n`` whenever ``n`` records pass the filter)."""
        ...

    def diverse(self, query: Query, k: int, fetch_k: int, lambda_mult: float) -> Ranked:
        """Maximal marginal relevance: ``k`` of the ``fetch_k`` best, balancing relevance and redundancy.

        Every searcher picks with :func:`vecvault.index.maximal_marginal_relevance` over its own
        candidates; scores stay the candidates' similarity to the query.
        """
        ...

    def finish(self) -> None:
        """Work left for after the read snapshot (storing a grown graph); nothing for most searchers."""
        ...
