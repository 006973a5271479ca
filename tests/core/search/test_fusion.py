"""Fusion arithmetic against hand-computed rankings (vecvault.search.fusion is pure: no vault here)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vecvault import ConfigurationError
from vecvault.search.fusion import (
    check_alpha,
    check_fusion,
    min_max,
    reciprocal_rank_fusion,
    relative_score_fusion,
    rrf_relevance,
)

DENSE = [("a", 0.9), ("b", 0.8), ("c", 0.5)]
TEXT = [("c", 12.0), ("d", 6.0), ("a", 3.0)]


def test_rrf_by_hand() -> None:
    # a: dense rank 1, text rank 3 -> 1/61 + 1/63; b: dense 2 -> 1/62; c: dense 3, text 1 -> 1/63 + 1/61;
    # d: text 2 -> 1/62. a and c tie: a comes first (first ranking's order), then b before d likewise.
    fused = reciprocal_rank_fusion([DENSE, TEXT])
    assert [record_id for record_id, _ in fused] == ["a", "c", "b", "d"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 63)
    assert fused[1][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2][1] == pytest.approx(1 / 62)
    assert fused[3][1] == pytest.approx(1 / 62)


def test_rrf_with_another_k_and_one_empty_leg() -> None:
    assert reciprocal_rank_fusion([[("x", 5.0), ("y", 1.0)], []], k=1) == [("x", 1 / 2), ("y", 1 / 3)]
    assert reciprocal_rank_fusion([[], []]) == []
    # A record listed twice in one ranking counts once, at its best rank.
    assert reciprocal_rank_fusion([[("x", 2.0), ("x", 1.0), ("y", 0.5)]]) == [("x", 1 / 61), ("y", 1 / 63)]
    with pytest.raises(ConfigurationError, match="positive int"):
        reciprocal_rank_fusion([DENSE], k=0)


def test_rrf_relevance_is_a_share_of_the_best_possible() -> None:
    assert rrf_relevance(2 / 61, 2) == pytest.approx(1.0)
    assert rrf_relevance(1 / 61, 2) == pytest.approx(0.5)
    assert rrf_relevance(1 / 62 + 1 / 70, 2) == pytest.approx((1 / 62 + 1 / 70) * 61 / 2)
    assert rrf_relevance(0.0, 2) == 0.0


def test_min_max_by_hand() -> None:
    assert min_max(TEXT) == {"c": 1.0, "d": pytest.approx(1 / 3), "a": 0.0}
    assert min_max([("only", 0.3)]) == {"only": 1.0}
    assert min_max([("x", 2.0), ("y", 2.0)]) == {"x": 1.0, "y": 1.0}
    assert min_max([]) == {}


def test_relative_score_fusion_by_hand() -> None:
    # dense scaled: a 1, b 0.75, c 0; text scaled: c 1, d 1/3, a 0.
    fused = dict(relative_score_fusion(DENSE, TEXT, alpha=0.5))
    assert fused == {
        "a": pytest.approx(0.5),
        "b": pytest.approx(0.375),
        "c": pytest.approx(0.5),
        "d": pytest.approx(1 / 6),
    }
    assert [i for i, _ in relative_score_fusion(DENSE, TEXT, alpha=0.5)] == ["a", "c", "b", "d"]
    weighted = relative_score_fusion(DENSE, TEXT, alpha=0.2)
    assert weighted[0] == ("c", pytest.approx(0.8))
    assert dict(weighted)["a"] == pytest.approx(0.2)
    assert dict(weighted)["b"] == pytest.approx(0.15)


def test_alpha_zero_and_one_are_one_leg_exactly() -> None:
    assert relative_score_fusion(DENSE, TEXT, alpha=1.0) == [("a", 1.0), ("b", pytest.approx(0.75)), ("c", 0.0)]
    assert relative_score_fusion(DENSE, TEXT, alpha=0.0) == [("c", 1.0), ("d", pytest.approx(1 / 3)), ("a", 0.0)]


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("nan"), float("inf"), "0.5", None, True])
def test_bad_alpha_and_fusion_raise(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="alpha"):
        check_alpha(bad)
    with pytest.raises(ConfigurationError, match="alpha"):
        relative_score_fusion(DENSE, TEXT, alpha=bad)  # type: ignore[arg-type]


def test_fusion_names() -> None:
    assert check_fusion("rrf") == "rrf"
    assert check_fusion("relative") == "relative"
    for bad in ("RRF", "linear", "", None, 1):
        with pytest.raises(ConfigurationError, match="Invalid fusion"):
            check_fusion(bad)


rankings = st.lists(
    st.tuples(st.sampled_from("abcdefgh"), st.floats(min_value=-5, max_value=5, allow_nan=False)),
    max_size=8,
    unique_by=lambda pair: pair[0],
)


@given(rankings, rankings, st.floats(min_value=0.0, max_value=1.0))
def test_fused_scores_are_bounded_and_sorted(
    dense: list[tuple[str, float]], text: list[tuple[str, float]], alpha: float
) -> None:
    fused = relative_score_fusion(dense, text, alpha)
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)
    assert all(-1e-9 <= s <= 1 + 1e-9 for s in scores)
    rrf = reciprocal_rank_fusion([dense, text])
    assert {i for i, _ in rrf} == {i for i, _ in dense} | {i for i, _ in text}
    assert all(0.0 <= rrf_relevance(s, 2) <= 1.0 for _, s in rrf)
