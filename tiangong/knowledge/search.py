"""POST /knowledge-bases/{id}/search: ranked chunks with scores, document, position and
highlighted snippets."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.knowledge import retrieval
from tiangong.knowledge.engines import tokenizer
from tiangong.knowledge.retrieval import Hit
from tiangong.knowledge.schemas import SearchHit, SearchRequest, SearchResult
from tiangong.knowledge.service import visible_kb
from tiangong.knowledge.spec import spec_of
from tiangong.runtime.rag.highlight import highlights


def _marked(hits: list[Hit], tokens: list[str]) -> list[list[str]]:
    words = tokenizer()
    return [highlights(hit.text, tokens, words) for hit in hits]


async def search(
    session: AsyncSession, user: User, kb_id: str, data: SearchRequest
) -> SearchResult:
    kb = spec_of(await visible_kb(session, user, kb_id))
    # Embedding the query may call a provider: no transaction stays open.
    await session.commit()
    found = await retrieval.search(
        kb, data.query, top_k=data.top_k, mode=data.mode, score_threshold=data.score_threshold
    )
    marks = await asyncio.to_thread(_marked, found.hits, found.query_tokens)
    return SearchResult(
        query=data.query,
        mode=found.mode,
        reranked=found.reranked,
        hits=[
            SearchHit(
                chunk_id=hit.chunk_id,
                kb_id=hit.kb_id,
                document_id=hit.document_id,
                document_name=hit.document_name,
                position=hit.position,
                heading=hit.heading,
                text=hit.text,
                score=hit.score,
                vector_score=hit.vector_score,
                keyword_score=hit.keyword_score,
                highlights=mark,
            )
            for hit, mark in zip(found.hits, marks, strict=True)
        ],
    )
