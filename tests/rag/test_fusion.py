"""Reciprocal rank fusion and score normalization."""

from __future__ import annotations

import pytest

from tiangong.runtime.rag.fusion import normalize_scores, rrf
from tiangong.runtime.rag.types import ScoredId


def _ranking(*ids: str) -> list[ScoredId]:
    return [ScoredId(id_, 100.0 - i) for i, id_ in enumerate(ids)]


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = rrf([_ranking("a", "b", "c"), _ranking("b", "d")], k=60)
    assert [h.id for h in fused] == ["b", "a", "d", "c"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1].score == pytest.approx(1 / 61)


def test_rrf_ignores_raw_score_scales() -> None:
    dense = [ScoredId("a", 0.91), ScoredId("b", 0.90)]
    keyword = [ScoredId("b", 35.0), ScoredId("a", 0.1)]
    fused = rrf([dense, keyword])
    assert fused[0].score == pytest.approx(fused[1].score)
    # Equal scores: the id that reached rank 1 first (in the first ranking) wins.
    assert [h.id for h in fused] == ["a", "b"]


def test_rrf_weights_favour_one_retriever() -> None:
    fused = rrf([_ranking("a", "b"), _ranking("b", "a")], weights=[2.0, 1.0])
    assert [h.id for h in fused] == ["a", "b"]
    with pytest.raises(ValueError):
        rrf([_ranking("a")], weights=[1.0, 2.0])


def test_rrf_of_nothing_is_empty() -> None:
    assert rrf([]) == []
    assert rrf([[], []]) == []


def test_normalize_scores_scales_to_unit_range() -> None:
    scaled = normalize_scores([ScoredId("a", 12.0), ScoredId("b", 7.0), ScoredId("c", 2.0)])
    assert [(h.id, h.score) for h in scaled] == [("a", 1.0), ("b", 0.5), ("c", 0.0)]
    assert normalize_scores([ScoredId("a", 3.0), ScoredId("b", 3.0)])[1].score == 1.0
    assert normalize_scores([]) == []
