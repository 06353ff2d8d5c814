"""Every SQL statement of the feishu module. Bindings are read by open_id or by their user;
callers decide (in the service) whether the caller may see the row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.feishu.models import FeishuBinding, FeishuDefaultAgent, FeishuEvent


async def binding_by_open_id(session: AsyncSession, open_id: str) -> FeishuBinding | None:
    stmt = select(FeishuBinding).where(FeishuBinding.open_id == open_id)
    return (await session.execute(stmt)).scalars().first()


async def binding_of_user(session: AsyncSession, user_id: str) -> FeishuBinding | None:
    stmt = (
        select(FeishuBinding)
        .where(FeishuBinding.user_id == user_id)
        .order_by(FeishuBinding.created_at.desc(), FeishuBinding.id)
    )
    return (await session.execute(stmt)).scalars().first()


async def with_users(
    session: AsyncSession, *, status: str, offset: int, limit: int
) -> tuple[list[tuple[FeishuBinding, User]], int]:
    stmt = (
        select(FeishuBinding, User)
        .join(User, User.id == FeishuBinding.user_id)
        .where(FeishuBinding.status == status)
    )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(FeishuBinding.created_at, FeishuBinding.id).offset(offset).limit(limit)
    )
    return [(b, u) for b, u in rows.tuples()], int(total)


async def counts(session: AsyncSession) -> dict[str, int]:
    stmt = select(FeishuBinding.status, func.count()).group_by(FeishuBinding.status)
    return {status: int(n) for status, n in (await session.execute(stmt)).tuples()}


async def add(session: AsyncSession, row: FeishuBinding | FeishuDefaultAgent) -> None:
    session.add(row)
    await session.flush()


async def delete(session: AsyncSession, row: FeishuBinding | FeishuDefaultAgent) -> None:
    await session.delete(row)
    await session.flush()


async def default_agent(session: AsyncSession, user_id: str) -> FeishuDefaultAgent | None:
    stmt = select(FeishuDefaultAgent).where(FeishuDefaultAgent.user_id == user_id)
    return (await session.execute(stmt)).scalars().first()


async def add_event(session: AsyncSession, row: FeishuEvent) -> None:
    session.add(row)
    await session.flush()


async def claim_event(session: AsyncSession, event_id: str) -> FeishuEvent | None:
    """Take a queued event; None if it is done, failed, or another worker holds it."""
    stmt = (
        update(FeishuEvent)
        .where(FeishuEvent.id == event_id, FeishuEvent.status == "queued")
        .values(status="running", attempts=FeishuEvent.attempts + 1, updated_at=utcnow())
    )
    if (await session.execute(stmt)).rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.get(FeishuEvent, event_id, populate_existing=True)


async def finish_event(
    session: AsyncSession, event_id: str, status: str, error: str | None = None
) -> None:
    stmt = (
        update(FeishuEvent)
        .where(FeishuEvent.id == event_id)
        .values(status=status, error=error[:500] if error else None, updated_at=utcnow())
    )
    await session.execute(stmt)


async def store_reply(session: AsyncSession, event_id: str, reply: str) -> None:
    stmt = (
        update(FeishuEvent)
        .where(FeishuEvent.id == event_id)
        .values(reply=reply, updated_at=utcnow())
    )
    await session.execute(stmt)


async def stale_events(session: AsyncSession, cutoff: datetime) -> list[FeishuEvent]:
    stmt = (
        select(FeishuEvent)
        .where(FeishuEvent.status.in_(("queued", "running")), FeishuEvent.updated_at < cutoff)
        .order_by(FeishuEvent.created_at)
        .limit(100)
    )
    return list((await session.execute(stmt)).scalars())


async def requeue(session: AsyncSession, row: FeishuEvent, cutoff: datetime, status: str) -> bool:
    """Conditional on the row still being stale, so two recovering processes do not both win."""
    stmt = (
        update(FeishuEvent)
        .where(FeishuEvent.id == row.id, FeishuEvent.updated_at < cutoff)
        .where(FeishuEvent.status.in_(("queued", "running")))
        .values(status=status, updated_at=utcnow())
    )
    return bool((await session.execute(stmt)).rowcount == 1)  # type: ignore[attr-defined]


async def purge_finished(session: AsyncSession, before: datetime) -> int:
    """Drop done and failed events older than `before`: their ids only matter while Feishu
    may still redeliver them."""
    stmt = sql_delete(FeishuEvent).where(
        FeishuEvent.status.in_(("done", "failed")), FeishuEvent.updated_at < before
    )
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]
