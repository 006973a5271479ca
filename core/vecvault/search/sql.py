"""``plain`` collections: libSQL ranks the unsealed vectors inside SQL; filters use the mirror's metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vecvault.filters import Filter
from vecvault.records import decode_vector, encode_vector
from vecvault.search.base import Query, Ranked
from vecvault.search.mmr import maximal_marginal_relevance
from vecvault.storage import CollectionRow

if TYPE_CHECKING:
    from vecvault.engine import VaultCore
    from vecvault.search.mirror import Mirror

__all__ = ["SqlSearcher", "plain_score"]


def plain_score(metric: str, distance_value: float) -> float:
    """Turn libSQL's distance into vecvault's similarity score (see :mod:`vecvault.index`)."""
    if metric == "cosine":
        return 1.0 - distance_value
    return 1.0 / (1.0 + distance_value)


class SqlSearcher:
    """``vector_distance_cos``/``_l2`` (or libSQL's DiskANN index) over a plain collection's vector table."""

    def __init__(
        self, core: VaultCore, config: CollectionRow, mirror: Mirror, parsed: Filter | None, *, native: bool
    ) -> None:
        self._core = core
        self._config = config
        self._mirror = mirror
        self._parsed = parsed
        self._native = native

    def top(self, query: Query, n: int) -> Ranked:
        """The ``n`` best records, ranked by libSQL; with a filter, among the ids whose metadata matches."""
        storage = self._core.storage
        name, metric = self._config.name, self._config.metric
        q = encode_vector(query)
        if self._parsed is None:
            ranked = storage.plain_top_k(name, metric, q, n, native_index=self._native)
        else:
            matching = self._mirror.matching_ids(self._config, self._parsed)
            ranked = storage.plain_top_k(name, metric, q, n, ids=matching) if matching else []
        return Ranked([(record_id, plain_score(metric, d)) for record_id, d in ranked])

    def diverse(self, query: Query, k: int, fetch_k: int, lambda_mult: float) -> Ranked:
        """MMR among libSQL's ``fetch_k`` best, over their plain vectors."""
        pool = self.top(query, fetch_k)
        if not pool.hits:
            return pool
        raw = self._core.storage.plain_vectors(self._config.name, [i for i, _ in pool.hits])
        matrix = np.stack([decode_vector(raw[i], self._config.dim) for i, _ in pool.hits])
        picked = maximal_marginal_relevance(query, matrix, k=k, lambda_mult=lambda_mult)
        return Ranked([pool.hits[i] for i in picked])

    def finish(self) -> None:
        """Nothing to do after the snapshot."""
