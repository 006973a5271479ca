"""Fusing ranked lists: reciprocal-rank fusion and relative-score fusion. Pure functions, no I/O.

Each ranking is a list of ``(record id, score)`` pairs, best first. Both functions return the fused list,
best first, with ties broken by the first ranking's order, then the second's (so the result is
deterministic).

- :func:`reciprocal_rank_fusion` (Cormack, Clarke and Büttcher, SIGIR 2009): a record scores
  ``sum(1 / (k + rank))`` over the rankings it appears in, ranks counted from 1; ``k = 60``, as in the
  paper, LanceDB and Qdrant. Scores are ignored, only ranks count, so legs on different scales (BM25 and
  cosine) need no normalizing.
- :func:`relative_score_fusion` (Weaviate's ``relativeScoreFusion``; LlamaIndex's hybrid ``alpha``):
  each ranking's scores are min-max scaled into [0, 1] (best 1, worst 0; a ranking whose scores are all
  equal scales to 1), then ``alpha * dense + (1 - alpha) * text``, a record missing from a ranking
  adding 0 for it. ``alpha = 0`` is the text ranking alone, ``1`` the dense ranking alone (a ranking of
  weight 0 is left out, not appended at score 0).

:func:`rrf_relevance` maps a fused RRF score into [0, 1]: 1 for a record ranked first in every ranking.
"""

from __future__ import annotations

from collections.abc import Sequence

from vecvault.errors import ConfigurationError

__all__ = [
    "DEFAULT_RRF_K",
    "FUSIONS",
    "check_alpha",
    "check_fusion",
    "hybrid_alpha",
    "min_max",
    "reciprocal_rank_fusion",
    "relative_score_fusion",
    "rrf_relevance",
]

DEFAULT_RRF_K = 60
FUSIONS = ("rrf", "relative")
Ranking = Sequence[tuple[str, float]]


def check_fusion(fusion: object) -> str:
    """``fusion`` if it names a fusion of :data:`FUSIONS`."""
    if not isinstance(fusion, str) or fusion not in FUSIONS:
        raise ConfigurationError(f"Invalid fusion: {fusion!r}. Expected one of {list(FUSIONS)}.")
    return fusion


def check_alpha(alpha: object) -> float:
    """``alpha`` as a float in [0, 1] (0 = text only, 1 = dense only)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= float(alpha) <= 1.0:
        raise ConfigurationError(f"alpha must be a number in [0, 1] (0 = text only, 1 = dense only), not {alpha!r}.")
    return float(alpha)


def hybrid_alpha(fusion: object, alpha: object) -> float:
    """Check a hybrid search's ``fusion`` and ``alpha``; the dense weight ``relative`` fusion uses (default 0.5).

    ``alpha`` belongs to relative fusion: with ``"rrf"`` (ranks only) it is refused, never ignored.
    """
    if check_fusion(fusion) == "rrf" and alpha is not None:
        raise ConfigurationError(
            "alpha weights the legs of fusion='relative'; reciprocal-rank fusion uses ranks only. "
            "Pass fusion='relative' with alpha, or drop alpha."
        )
    return check_alpha(0.5 if alpha is None else alpha)


def _order(fused: dict[str, float]) -> list[tuple[str, float]]:
    # dicts keep insertion order (first ranking first): a stable sort on -score breaks ties by it.
    return sorted(fused.items(), key=lambda item: -item[1])


def reciprocal_rank_fusion(rankings: Sequence[Ranking], k: int = DEFAULT_RRF_K) -> list[tuple[str, float]]:
    """Fuse rankings by reciprocal rank: ``score(d) = sum over rankings of 1 / (k + rank(d))``, rank from 1.

    A record listed twice in one ranking counts at its best rank.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ConfigurationError(f"The RRF constant k must be a positive int, not {k!r}.")
    fused: dict[str, float] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, (record_id, _) in enumerate(ranking, start=1):
            if record_id in seen:
                continue
            seen.add(record_id)
            fused[record_id] = fused.get(record_id, 0.0) + 1.0 / (k + rank)
    return _order(fused)


def rrf_relevance(score: float, legs: int, k: int = DEFAULT_RRF_K) -> float:
    """An RRF score as a fraction of the best possible (first in each of ``legs`` rankings), in [0, 1]."""
    best = legs / (k + 1)
    return 0.0 if best <= 0 else min(1.0, max(0.0, score / best))


def min_max(ranking: Ranking) -> dict[str, float]:
    """Scores scaled into [0, 1] (best 1, worst 0); all equal scale to 1. The first score of an id wins."""
    scores: dict[str, float] = {}
    for record_id, score in ranking:
        scores.setdefault(record_id, float(score))
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    if span <= 0.0:
        return dict.fromkeys(scores, 1.0)
    return {record_id: (score - low) / span for record_id, score in scores.items()}


def relative_score_fusion(dense: Ranking, text: Ranking, alpha: float = 0.5) -> list[tuple[str, float]]:
    """Fuse a dense and a text ranking: ``alpha * minmax(dense) + (1 - alpha) * minmax(text)``.

    A record only in one ranking gets 0 from the other. A ranking of weight 0 is left out entirely, so
    ``alpha`` = 1 is exactly the dense ranking and 0 exactly the text ranking.
    """
    alpha = check_alpha(alpha)
    fused: dict[str, float] = {}
    for weight, ranking in ((alpha, dense), (1.0 - alpha, text)):
        if weight == 0.0:
            continue
        for record_id, scaled in min_max(ranking).items():
            fused[record_id] = fused.get(record_id, 0.0) + weight * scaled
    return _order(fused)
