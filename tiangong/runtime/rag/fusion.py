"""Fusing rankings from several retrievers (dense, keyword) into one."""

from __future__ import annotations

from collections.abc import Sequence

from tiangong.runtime.rag.types import ScoredId


def rrf(
    rankings: Sequence[Sequence[ScoredId]],
    k: int = 60,
    weights: Sequence[float] | None = None,
) -> list[ScoredId]:
    """Reciprocal rank fusion: each ranking adds `weight / (k + rank)` (rank from 1) to an id.

    Only ranks count, so scores on different scales (cosine, BM25) need no calibration. Ties
    go to the id that reached its best rank first, so the result is deterministic.
    """
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("weights must have one entry per ranking")
    scores: dict[str, float] = {}
    best_rank: dict[str, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (k + rank)
            if rank < best_rank.get(hit.id, rank + 1):
                best_rank[hit.id] = rank
    order = sorted(scores, key=lambda id_: (-scores[id_], best_rank[id_]))
    return [ScoredId(id_, scores[id_]) for id_ in order]


def normalize_scores(hits: Sequence[ScoredId]) -> list[ScoredId]:
    """Min-max scales scores to [0, 1] (all 1.0 when they are equal), order kept; for showing
    one relevance scale whatever retriever produced the hits."""
    if not hits:
        return []
    low = min(h.score for h in hits)
    span = max(h.score for h in hits) - low
    return [ScoredId(h.id, (h.score - low) / span if span > 0 else 1.0) for h in hits]
