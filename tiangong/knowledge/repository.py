"""Knowledge base queries. Reads a caller makes are scoped: owners see their own, admins all.
The job-side statements (claims, progress) are keyed by document id and fenced by attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, delete, func, null, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.knowledge.models import Chunk, Document, KnowledgeBase

RUNNING = ("parsing", "embedding")


def _scope(user: User) -> ColumnElement[bool]:
    return true() if user.is_admin else KnowledgeBase.owner_id == user.id


def _visible(user: User) -> Select[KnowledgeBase]:
    return select(KnowledgeBase).where(_scope(user))


async def list_visible(
    session: AsyncSession, user: User, *, offset: int, limit: int
) -> tuple[list[KnowledgeBase], int]:
    stmt = _visible(user)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(KnowledgeBase.created_at.desc(), KnowledgeBase.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_visible(session: AsyncSession, user: User, kb_id: str) -> KnowledgeBase | None:
    return (
        (await session.execute(_visible(user).where(KnowledgeBase.id == kb_id))).scalars().first()
    )


async def visible_among(
    session: AsyncSession, user: User, kb_ids: Sequence[str]
) -> list[KnowledgeBase]:
    if not kb_ids:
        return []
    stmt = _visible(user).where(KnowledgeBase.id.in_(list(kb_ids)))
    return list((await session.execute(stmt)).scalars())


async def name_taken(
    session: AsyncSession, owner_id: str, name: str, exclude: str | None = None
) -> bool:
    stmt = select(KnowledgeBase.id).where(
        KnowledgeBase.owner_id == owner_id, KnowledgeBase.name == name
    )
    if exclude:
        stmt = stmt.where(KnowledgeBase.id != exclude)
    return (await session.execute(stmt)).first() is not None


async def documents(session: AsyncSession, kb_id: str) -> list[Document]:
    stmt = (
        select(Document).where(Document.kb_id == kb_id).order_by(Document.created_at, Document.id)
    )
    return list((await session.execute(stmt)).scalars())


async def document_in(session: AsyncSession, kb_id: str, doc_id: str) -> Document | None:
    stmt = select(Document).where(Document.kb_id == kb_id, Document.id == doc_id)
    return (await session.execute(stmt)).scalars().first()


async def lock_kb(session: AsyncSession, kb_id: str) -> None:
    """Take the knowledge base's row lock first in every transaction that changes its documents
    or chunks. One lock order (knowledge base, then documents) keeps MySQL from deadlocking
    between two jobs finishing at once (its count subqueries and FK checks lock rows), and makes
    the counts of concurrent commits add up on every database."""
    await session.execute(
        select(KnowledgeBase.id).where(KnowledgeBase.id == kb_id).with_for_update()
    )


async def refresh_counts(session: AsyncSession, kb_id: str) -> None:
    """Recount documents and searchable chunks, and bump the index version (caches rebuild)."""
    ready = select(func.coalesce(func.sum(Document.chunk_count), 0)).where(
        Document.kb_id == kb_id, Document.status == "ready"
    )
    docs = select(func.count(Document.id)).where(Document.kb_id == kb_id)
    await session.execute(
        update(KnowledgeBase)
        .where(KnowledgeBase.id == kb_id)
        .values(
            document_count=docs.scalar_subquery(),
            chunk_count=ready.scalar_subquery(),
            index_version=KnowledgeBase.index_version + 1,
        )
    )


async def requeue_all(session: AsyncSession, kb_id: str) -> list[str]:
    """Every document of the knowledge base back to the queue (settings changed)."""
    ids = list(
        (await session.execute(select(Document.id).where(Document.kb_id == kb_id))).scalars()
    )
    await session.execute(
        update(Document)
        .where(Document.kb_id == kb_id)
        .values(
            status="queued",
            progress=0.0,
            error=None,
            attempts=0,
            run_id=None,
            heartbeat_at=utcnow(),
        )
    )
    return ids


async def requeue(session: AsyncSession, doc_id: str) -> None:
    await session.execute(
        update(Document)
        .where(Document.id == doc_id)
        .values(
            status="queued",
            progress=0.0,
            error=None,
            attempts=0,
            run_id=None,
            heartbeat_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


async def delete_document(session: AsyncSession, doc_id: str) -> None:
    await session.execute(delete(Chunk).where(Chunk.document_id == doc_id))
    await session.execute(delete(Document).where(Document.id == doc_id))


async def delete_kb(session: AsyncSession, kb_id: str) -> None:
    # Children first: FK cascades are a safety net, not the plan.
    await session.execute(delete(Chunk).where(Chunk.kb_id == kb_id))
    await session.execute(delete(Document).where(Document.kb_id == kb_id))
    await session.execute(delete(KnowledgeBase).where(KnowledgeBase.id == kb_id))


# --- chunks -----------------------------------------------------------------------------------


async def delete_chunks(session: AsyncSession, document_id: str) -> None:
    await session.execute(delete(Chunk).where(Chunk.document_id == document_id))


async def searchable_chunks(
    session: AsyncSession, kb_id: str, *, with_embeddings: bool
) -> list[Any]:
    """(id, keywords, embedding or None) of the chunks of ready documents, for in-memory
    indexes, by id: equal scores rank by index slot, so a rebuilt index must not take the
    order a join happened to return (PostgreSQL's differs between reads)."""
    embedding = Chunk.embedding if with_embeddings else null()
    stmt = (
        select(Chunk.id, Chunk.keywords, embedding)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.kb_id == kb_id, Document.status == "ready")
        .order_by(Chunk.id)
    )
    return list((await session.execute(stmt)).all())


class ShownChunk(NamedTuple):
    """What a search hit shows of a chunk row."""

    document_id: str
    document_name: str
    position: int
    heading: str | None
    text: str


async def chunks_with_documents(
    session: AsyncSession, chunk_ids: Sequence[str]
) -> dict[str, ShownChunk]:
    """chunk id -> what a hit shows, for chunks of ready documents only.

    Two lookups by primary key, not a join: with `status = 'ready'` in a join, SQLite plans it
    as "ready documents, then all their chunks" and walks every chunk of a big document (about
    100 ms at 50k chunks). The status is checked here, not in SQL, for the same reason."""
    if not chunk_ids:
        return {}
    chunks = (
        await session.execute(
            select(Chunk.id, Chunk.document_id, Chunk.position, Chunk.heading, Chunk.text).where(
                Chunk.id.in_(list(dict.fromkeys(chunk_ids)))
            )
        )
    ).all()
    doc_ids = list({row.document_id for row in chunks})
    if not doc_ids:
        return {}
    docs = await session.execute(
        select(Document.id, Document.name, Document.status).where(Document.id.in_(doc_ids))
    )
    names = {doc_id: name for doc_id, name, status in docs.tuples() if status == "ready"}
    return {
        row.id: ShownChunk(
            row.document_id, names[row.document_id], row.position, row.heading, row.text
        )
        for row in chunks
        if row.document_id in names
    }


# --- job side ---------------------------------------------------------------------------------


async def claim(session: AsyncSession, doc_id: str, run_id: str) -> bool:
    """queued -> parsing for run `run_id`. Of several processes claiming at once only one
    matches: the others' UPDATE finds the row no longer queued."""
    now = utcnow()
    result = await session.execute(
        update(Document)
        .where(Document.id == doc_id, Document.status == "queued")
        .values(
            status="parsing",
            run_id=run_id,
            attempts=Document.attempts + 1,
            progress=0.0,
            error=None,
            chunk_count=0,
            started_at=now,
            finished_at=None,
            heartbeat_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def advance(session: AsyncSession, doc_id: str, run: str, **values: Any) -> bool:
    """Update a running document, fenced by the run that claimed it: False means the run was
    superseded (document deleted, re-queued, or claimed again elsewhere) and must stop."""
    result = await session.execute(
        update(Document)
        .where(Document.id == doc_id, Document.run_id == run, Document.status.in_(RUNNING))
        .values({"heartbeat_at": utcnow(), **values})
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def heartbeat(session: AsyncSession, doc_ids: Sequence[str]) -> None:
    await session.execute(
        update(Document)
        .where(Document.id.in_(list(doc_ids)), Document.status.in_(("queued", *RUNNING)))
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def stale(session: AsyncSession, older_than: datetime) -> list[Document]:
    """Documents nobody is working on: queued or running with no heartbeat since `older_than`."""
    stmt = select(Document).where(
        Document.status.in_(("queued", *RUNNING)),
        (Document.heartbeat_at.is_(None)) | (Document.heartbeat_at < older_than),
    )
    return list((await session.execute(stmt)).scalars())


async def reset_stale(
    session: AsyncSession, doc: Document, older_than: datetime, **values: Any
) -> bool:
    """Change a stale document only if it is still exactly as we saw it."""
    result = await session.execute(
        update(Document)
        .where(
            Document.id == doc.id,
            Document.status == doc.status,
            Document.attempts == doc.attempts,
            (Document.heartbeat_at.is_(None)) | (Document.heartbeat_at < older_than),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
