"""Retrieval: dense, keyword or both fused with RRF, then an optional rerank.

The query is embedded and the reranker called with no transaction open; the store is read in
one short session between the two.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from tiangong.db.engine import session_factory
from tiangong.errors import AppError
from tiangong.knowledge import repository
from tiangong.knowledge import store as stores
from tiangong.knowledge.engines import embedder_for, reranker_for, tokenizer
from tiangong.knowledge.spec import KbSpec
from tiangong.runtime.rag.fusion import rrf
from tiangong.runtime.rag.types import ScoredId

log = logging.getLogger(__name__)

# Candidates fetched from each retriever per hit wanted, so fusion has something to fuse.
CANDIDATES_PER_HIT = 4


@dataclass(frozen=True)
class Hit:
    kb_id: str
    chunk_id: str
    document_id: str
    document_name: str
    position: int
    heading: str | None
    text: str
    score: float
    vector_score: float | None = None
    keyword_score: float | None = None


@dataclass(frozen=True)
class Retrieved:
    hits: list[Hit]
    mode: str
    reranked: bool
    query_tokens: list[str]


async def search(
    kb: KbSpec,
    query: str,
    *,
    top_k: int | None = None,
    mode: str | None = None,
    score_threshold: float | None = None,
) -> Retrieved:
    """The best chunks of one knowledge base; unset options take the knowledge base's."""
    mode = mode or kb.search_mode
    top_k = top_k or kb.top_k
    threshold = kb.score_threshold if score_threshold is None else score_threshold
    rerank = kb.rerank_config
    wanted = max(top_k * CANDIDATES_PER_HIT, int(rerank.get("candidates", 0)) if rerank else 0)
    tokens = await asyncio.to_thread(tokenizer().tokens, query)
    vector = await _query_vector(kb, query, mode) if mode != "keyword" else None
    store = stores.current()
    async with session_factory()() as session:
        dense = await store.dense(session, kb, vector, wanted) if vector is not None else []
        keyword = await store.keyword(session, kb, tokens, wanted) if mode != "vector" else []
        if threshold is not None:
            # Cosine has a meaning across queries; BM25 and RRF scores do not, so only the
            # dense side is cut.
            dense = [hit for hit in dense if hit.score >= threshold]
        if mode == "vector":
            ranked = dense
        elif mode == "keyword":
            ranked = keyword
        else:
            ranked = rrf([dense, keyword])
        # The reranker sees all candidates; otherwise only the hits returned are loaded.
        ranked = ranked[: wanted if rerank else top_k]
        rows = await repository.chunks_with_documents(session, [hit.id for hit in ranked])
    by_dense = {hit.id: hit.score for hit in dense}
    by_keyword = {hit.id: hit.score for hit in keyword}
    hits = [
        Hit(
            kb_id=kb.id,
            chunk_id=hit.id,
            document_id=rows[hit.id].document_id,
            document_name=rows[hit.id].document_name,
            position=rows[hit.id].position,
            heading=rows[hit.id].heading,
            text=rows[hit.id].text,
            score=hit.score,
            vector_score=by_dense.get(hit.id),
            keyword_score=by_keyword.get(hit.id),
        )
        for hit in ranked
        if hit.id in rows
    ]
    reranked = False
    if rerank and hits:
        hits, reranked = await _rerank(kb, query, hits)
    return Retrieved(hits=hits[:top_k], mode=mode, reranked=reranked, query_tokens=tokens)


async def _query_vector(kb: KbSpec, query: str, mode: str) -> list[float] | None:
    try:
        return await embedder_for(kb).embed_query(query)
    except AppError as exc:
        if mode == "vector":
            raise
        # Hybrid search still has its keyword half while the embeddings provider is down.
        log.warning("query embedding for knowledge base %s failed: %s", kb.id, exc.message)
        return None


async def _rerank(kb: KbSpec, query: str, hits: list[Hit]) -> tuple[list[Hit], bool]:
    by_id = {hit.chunk_id: hit for hit in hits}
    try:
        scored = await reranker_for(kb).rerank(query, [(hit.chunk_id, hit.text) for hit in hits])
    except AppError as exc:
        # A reranker outage degrades ranking, not search.
        log.warning("rerank for knowledge base %s failed: %s", kb.id, exc.message)
        return hits, False
    return [replace(by_id[item.id], score=item.score) for item in scored if item.id in by_id], True


async def search_many(kbs: Sequence[KbSpec], query: str, *, top_k: int | None = None) -> list[Hit]:
    """Search several knowledge bases, each with its own settings, and interleave the results
    by rank (their scores are on different scales)."""
    if not kbs:
        return []
    outcomes = await asyncio.gather(
        *(search(kb, query, top_k=top_k) for kb in kbs), return_exceptions=True
    )
    results = []
    for kb, outcome in zip(kbs, outcomes, strict=True):
        if isinstance(outcome, AppError):
            # One knowledge base failing leaves the others' results.
            log.warning("searching knowledge base %s failed: %s", kb.id, outcome.message)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results.append(outcome)
    if len(results) == 1:
        return results[0].hits
    by_id = {hit.chunk_id: hit for result in results for hit in result.hits}
    fused = rrf([[ScoredId(hit.chunk_id, hit.score) for hit in r.hits] for r in results])
    limit = top_k or max(kb.top_k for kb in kbs)
    return [by_id[item.id] for item in fused[:limit]]
