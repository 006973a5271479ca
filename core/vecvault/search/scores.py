"""Scores per metric: similarity, distance, relevance (LangChain) and similarity (LlamaIndex).

Scores, per metric. ``score`` is a similarity (higher is better), ``distance`` the metric's distance (lower
is closer); ``relevance`` is ``Hit.relevance`` and what LangChain's ``similarity_search_with_relevance_scores``
returns, ``similarity`` what the LlamaIndex adapter puts in ``VectorStoreQueryResult.similarities``:

=========  =======================  ===================  ========================  =======================
metric     score                    distance             relevance (LangChain)     similarity (LlamaIndex)
=========  =======================  ===================  ========================  =======================
cosine     cos(q, x), in [-1, 1]    1 - cos, in [0, 2]   1 - distance              cos(q, x)
dot        q · x                    -(q · x)             q · x                     q · x
euclidean  1 / (1 + ||q - x||)      ||q - x||, >= 0      1 - distance / sqrt(2)    1 / (1 + ||q - x||)
=========  =======================  ===================  ========================  =======================

Relevance and similarity are clamped into [0, 1]. The relevance column is the convention of LangChain's own
``VectorStore`` (``_cosine_relevance_score_fn``, ``_euclidean_relevance_score_fn``,
``_max_inner_product_relevance_score_fn``), of langchain-chroma and of PGVector, so a ``score_threshold``
tuned on them means the same here. One deliberate difference: for a negative inner product LangChain's
``_max_inner_product_relevance_score_fn`` returns ``1 + q · x`` (so -0.3 scores 0.7, above +0.5); here it is 0,
which keeps relevance monotonic in the score. The similarity column is LlamaIndex's (``SimpleVectorStore`` and
the Qdrant and Postgres stores report the cosine itself, ``1 - distance``), clamped at 0 for vectors pointing
away from the query; LlamaIndex has no convention for euclidean distance, so it keeps a bounded decreasing map.
``dot`` assumes unit-length vectors, as the embedders these stores serve produce.

The ranking runs in float32 over the whole matrix; the ``k`` hits returned are then scored again in float64
from their stored float32 vectors (:func:`exact_scores`, ``k`` dot products), so an identical vector has
distance exactly 0 and a score never leaves its metric's range because of rounding.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vecvault.errors import ConfigurationError

METRICS = ("cosine", "dot", "euclidean")

_METRIC_ALIASES = {
    "cosine": "cosine",
    "cos": "cosine",
    "dot": "dot",
    "ip": "dot",
    "inner_product": "dot",
    "max_inner_product": "dot",
    "euclidean": "euclidean",
    "l2": "euclidean",
    "euclidean_distance": "euclidean",
}

_SQRT2 = float(np.sqrt(2.0))


def normalize_metric(metric: str) -> str:
    """Map a metric name or alias to one of :data:`METRICS`."""
    name = _METRIC_ALIASES.get(str(metric).lower())
    if name is None:
        raise ConfigurationError(f"Unknown metric {metric!r}. Expected one of {list(METRICS)}.")
    return name


def _unit_interval(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def relevance(metric: str, distance: float) -> float:
    """The relevance in [0, 1] of a distance, by the convention of LangChain and its peers (see the table).

    ``Hit.relevance``; the LangChain adapter's ``similarity_search_with_relevance_scores`` returns it.
    """
    if metric == "cosine":
        return _unit_interval(1.0 - distance)
    if metric == "dot":
        return _unit_interval(-distance)
    return _unit_interval(1.0 - distance / _SQRT2)


def similarity(metric: str, score: float) -> float:
    """The similarity in [0, 1] of a score, by LlamaIndex's convention (see the table).

    What the LlamaIndex adapter reports in ``VectorStoreQueryResult.similarities``.
    """
    return _unit_interval(score)


def distance(metric: str, score: float) -> float:
    """The distance (lower is closer) that corresponds to a similarity score."""
    if metric == "cosine":
        return min(2.0, max(0.0, 1.0 - score))
    if metric == "dot":
        return -score
    return (1.0 / score) - 1.0 if score > 0 else float("inf")


def exact_scores(
    metric: str, query: npt.ArrayLike, vectors: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Scores and distances of stored vectors against a query, in float64, clamped into the metric's range.

    ``query`` and ``vectors`` are taken as given (float32 as stored, not normalised): cosine is
    ``q · x / sqrt(|q|² |x|²)``, as PGVector computes it, so an identical vector scores exactly 1 (distance 0).
    A zero vector has cosine 0. Costs one dot product per row: meant for the ``k`` hits of a search.

    Returns:
        ``(scores, distances)``: similarity (higher is better) and distance (lower is closer) per row.
    """
    q = np.asarray(query, dtype=np.float64).reshape(-1)
    x = np.asarray(vectors, dtype=np.float64).reshape(-1, q.shape[0])
    if metric == "euclidean":
        diff = x - q
        dist: npt.NDArray[np.float64] = np.sqrt((diff * diff).sum(axis=1))
        return 1.0 / (1.0 + dist), dist
    # One reduction for the three sums, so a vector identical to the query has q·x == |q|² == |x|² exactly.
    dots: npt.NDArray[np.float64] = (x * q).sum(axis=1)
    if metric == "dot":
        return dots, -dots
    denominator = np.sqrt((x * x).sum(axis=1) * float((q * q).sum()))
    denominator[denominator == 0] = np.inf  # a zero vector: cosine 0
    cos = np.clip(dots / denominator, -1.0, 1.0)
    return cos, np.clip(1.0 - cos, 0.0, 2.0)
