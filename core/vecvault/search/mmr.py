"""Maximal marginal relevance: diverse hits among a searcher's candidates (LangChain's algorithm)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def maximal_marginal_relevance(
    query: npt.NDArray[np.float32],
    candidates: npt.NDArray[np.float32],
    *,
    k: int,
    lambda_mult: float = 0.5,
) -> list[int]:
    """Pick ``k`` candidate positions balancing relevance to ``query`` against redundancy.

    Uses cosine similarity; the first pick is the most similar candidate. Each next pick maximises
    ``lambda_mult * sim(query, c) - (1 - lambda_mult) * max(sim(c, picked))``.
    """
    n = candidates.shape[0]
    if n == 0 or k <= 0:
        return []
    unit = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    to_query = unit @ q
    picked = [int(np.argmax(to_query))]
    redundancy = unit @ unit[picked[0]]
    chosen = np.zeros(n, dtype=bool)
    chosen[picked[0]] = True
    while len(picked) < min(k, n):
        objective = lambda_mult * to_query - (1.0 - lambda_mult) * redundancy
        objective[chosen] = -np.inf
        best = int(np.argmax(objective))
        picked.append(best)
        chosen[best] = True
        redundancy = np.maximum(redundancy, unit @ unit[best])
    return picked
