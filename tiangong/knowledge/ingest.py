"""The ingestion job of one document: claim, fetch or read, parse, chunk, embed, store.

Each step is a short transaction fenced by the run that claimed the document, so a job
that was superseded (document deleted, re-queued, or taken over after a stall) stops at its
next write instead of mixing its chunks with another run's. No transaction is open while the
job parses, fetches or waits on the embeddings provider.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tiangong.config import get_settings
from tiangong.db.base import new_id, utcnow
from tiangong.db.engine import session_factory
from tiangong.errors import AppError
from tiangong.knowledge import files, repository
from tiangong.knowledge import store as stores
from tiangong.knowledge.engines import embedder_for, tokenizer
from tiangong.knowledge.models import Chunk, Document, KnowledgeBase
from tiangong.knowledge.spec import KbSpec, spec_of
from tiangong.runtime.rag.chunker import chunk
from tiangong.runtime.rag.errors import EmbeddingFailed, EmptyDocument
from tiangong.runtime.rag.parsers import parse
from tiangong.runtime.rag.types import Chunk as TextChunk
from tiangong.runtime.rag.types import Embedder

log = logging.getLogger(__name__)

BATCH = 32
# On top of the embedder's own retries: the job retries a failed batch this many times more,
# after these pauses, before the document fails.
RETRY_DELAYS_S: Sequence[float] = (2.0, 10.0, 30.0)
# Progress: fetch and parse take the first tenth, embedding the rest.
PARSED = 0.1


class Superseded(Exception):
    """Someone else owns the document now; this run must stop without writing."""


@dataclass(frozen=True)
class Job:
    doc_id: str
    run_id: str
    attempt: int
    name: str
    source: str
    url: str | None
    content_type: str | None
    kb: KbSpec


async def _claim(doc_id: str) -> Job | None:
    async with session_factory()() as session:
        doc = await session.get(Document, doc_id)
        if doc is None or doc.status != "queued":
            return None
        kb = await session.get(KnowledgeBase, doc.kb_id)
        run_id = new_id()
        if kb is None or not await repository.claim(session, doc_id, run_id):
            return None
        # A resumed or re-indexed document starts clean: nothing is stored twice.
        await stores.current().remove(session, kb.id, doc_id)
        await repository.delete_chunks(session, doc_id)
        await session.commit()
        return Job(
            doc_id=doc.id,
            run_id=run_id,
            attempt=doc.attempts + 1,
            name=doc.name,
            source=doc.source,
            url=doc.url,
            content_type=doc.content_type,
            kb=spec_of(kb),
        )


async def _advance(job: Job, **values: Any) -> None:
    async with session_factory()() as session:
        if not await repository.advance(session, job.doc_id, job.run_id, **values):
            raise Superseded
        await session.commit()


async def run(doc_id: str) -> None:
    job = await _claim(doc_id)
    if job is None:
        return
    try:
        await _ingest(job)
    except Superseded:
        log.info("ingestion of %s was superseded", doc_id)
    except asyncio.CancelledError:
        # Shutdown: hand the document back so the next start resumes it at once.
        await asyncio.shield(_release(job))
        raise
    except AppError as exc:
        await _fail(job, f"{exc.code}: {exc.message}")
    except Exception as exc:
        log.exception("ingestion of %s failed", doc_id)
        await _fail(job, f"INGEST_FAILED: {type(exc).__name__}: {str(exc)[:300]}")


async def _release(job: Job) -> None:
    try:
        await _advance(
            job, status="queued", attempts=job.attempt - 1, run_id=None, heartbeat_at=None
        )
    except Superseded:
        pass


async def _fail(job: Job, reason: str) -> None:
    log.warning("ingestion of %s failed: %s", job.doc_id, reason)
    async with session_factory()() as session:
        failed = await repository.advance(
            session,
            job.doc_id,
            job.run_id,
            status="failed",
            error=reason[:1000],
            finished_at=utcnow(),
        )
        if failed:
            await stores.current().remove(session, job.kb.id, job.doc_id)
            await repository.delete_chunks(session, job.doc_id)
        await session.commit()


async def _fetch(job: Job) -> tuple[bytes, str | None]:
    # Imported here: the tool platform pulls in the sandbox and MCP, which ingestion rarely needs.
    from tiangong.tools.platform import http_client

    assert job.url is not None
    response = await http_client().request(
        "GET", job.url, max_bytes=get_settings().knowledge_max_file_bytes
    )
    if response.status >= 400:
        raise AppError(f"Fetching the URL gave HTTP {response.status}", code="URL_FETCH_FAILED")
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type")
    await files.save(job.kb.id, job.doc_id, response.content)
    await _advance(
        job,
        size=len(response.content),
        content_hash=files.sha256(response.content),
        content_type=(content_type or "")[:100] or None,
    )
    return response.content, content_type


async def _source(job: Job) -> tuple[bytes, str | None]:
    data = await files.load(job.kb.id, job.doc_id)
    if data is not None:
        return data, job.content_type
    if job.source == "url":
        return await _fetch(job)
    raise AppError("The document's stored file is missing", code="DOCUMENT_FILE_MISSING")


async def _ingest(job: Job) -> None:
    data, content_type = await _source(job)
    parsed = await asyncio.to_thread(parse, job.name, data, content_type)
    pieces = await asyncio.to_thread(
        chunk, parsed, chunk_tokens=job.kb.chunk_tokens, overlap_tokens=job.kb.chunk_overlap
    )
    if not pieces:
        raise EmptyDocument(f"'{job.name}' contains no text to index.")
    await _advance(job, status="embedding", progress=PARSED)
    embedder = embedder_for(job.kb)
    for start in range(0, len(pieces), BATCH):
        batch = pieces[start : start + BATCH]
        vectors = await _embed(job, embedder, [piece.text for piece in batch])
        keywords = await asyncio.to_thread(_keywords, batch)
        done = (start + len(batch)) / len(pieces)
        await _store(job, batch, keywords, vectors, PARSED + (1 - PARSED) * done * 0.99)
    async with session_factory()() as session:
        await repository.lock_kb(session, job.kb.id)
        ready = await repository.advance(
            session,
            job.doc_id,
            job.run_id,
            status="ready",
            progress=1.0,
            chunk_count=len(pieces),
            finished_at=utcnow(),
        )
        if not ready:
            raise Superseded
        await repository.refresh_counts(session, job.kb.id)
        await session.commit()


def _keywords(batch: Sequence[TextChunk]) -> list[str]:
    words = tokenizer()
    return [" ".join(words.tokens(piece.text)) for piece in batch]


async def _embed(job: Job, embedder: Embedder, texts: list[str]) -> list[list[float]]:
    for attempt in range(len(RETRY_DELAYS_S) + 1):
        try:
            vectors = await embedder.embed_passages(texts)
            break
        except EmbeddingFailed as exc:
            if attempt == len(RETRY_DELAYS_S) or not _retryable(exc):
                raise
            log.warning("embedding a batch of %s failed (%s); retrying", job.doc_id, exc.message)
            await asyncio.sleep(RETRY_DELAYS_S[attempt])
            # Also tells us whether the document is still ours before trying again.
            await _advance(job)
    if any(len(vector) != job.kb.embedding_dim for vector in vectors):
        raise EmbeddingFailed(
            f"The embedder returned vectors of another size than this knowledge base's "
            f"{job.kb.embedding_dim}; change embedding_dim to match the model."
        )
    return vectors


def _retryable(exc: EmbeddingFailed) -> bool:
    """Rate limits, server errors, timeouts and lost connections may pass; a rejected key or
    request will not."""
    status = (exc.details or {}).get("provider_status") if isinstance(exc.details, dict) else None
    return status is None or status in (408, 409, 429) or status >= 500


async def _store(
    job: Job,
    batch: Sequence[TextChunk],
    keywords: list[str],
    vectors: list[list[float]],
    progress: float,
) -> None:
    rows = [
        Chunk(
            id=new_id(),
            kb_id=job.kb.id,
            document_id=job.doc_id,
            position=piece.index,
            text=piece.text,
            token_count=piece.token_count,
            start_char=piece.start,
            end_char=piece.end,
            heading=(piece.heading or "")[:500] or None,
            keywords=words,
            embedding=stores.to_bytes(vector),
        )
        for piece, words, vector in zip(batch, keywords, vectors, strict=True)
    ]
    async with session_factory()() as session:
        await repository.lock_kb(session, job.kb.id)
        if not await repository.advance(session, job.doc_id, job.run_id, progress=progress):
            raise Superseded
        session.add_all(rows)
        await session.flush()
        await stores.current().add(session, job.kb, job.doc_id, [row.id for row in rows], vectors)
        await session.commit()
