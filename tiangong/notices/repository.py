"""Notifications: every statement is scoped to the recipient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.notices.models import Notification


def _mine(user_id: str, unread: bool | None, kind: str | None) -> list[ColumnElement[bool]]:
    where = [Notification.user_id == user_id]
    if unread is True:
        where.append(Notification.read_at.is_(None))
    elif unread is False:
        where.append(Notification.read_at.is_not(None))
    if kind is not None:
        where.append(Notification.kind == kind)
    return where


async def page(
    session: AsyncSession,
    user_id: str,
    *,
    unread: bool | None,
    kind: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Notification], int]:
    where = _mine(user_id, unread, kind)
    total = await session.scalar(select(func.count(Notification.id)).where(*where))
    stmt = (
        select(Notification)
        .where(*where)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars()), int(total or 0)


async def unread_count(session: AsyncSession, user_id: str) -> int:
    stmt = select(func.count(Notification.id)).where(*_mine(user_id, True, None))
    return int(await session.scalar(stmt) or 0)


async def get_own(session: AsyncSession, user_id: str, notification_id: str) -> Notification | None:
    stmt = select(Notification).where(
        Notification.id == notification_id, Notification.user_id == user_id
    )
    return (await session.execute(stmt)).scalars().first()


async def mark_all_read(session: AsyncSession, user_id: str, now: datetime) -> int:
    result = await session.execute(
        update(Notification)
        .where(*_mine(user_id, True, None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_own(session: AsyncSession, user_id: str, notification_id: str) -> bool:
    result = await session.execute(
        delete(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))
