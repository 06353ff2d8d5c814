"""Notifications. Other modules call `notify` to tell a user something, inside their own
transaction: the notification exists exactly when what it reports was committed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.errors import NotFound
from tiangong.notices import repository
from tiangong.notices.models import Notification
from tiangong.notices.schemas import NotificationList, NotificationRead


async def notify(
    session: AsyncSession,
    user_id: str,
    kind: str,
    title: str,
    body: str = "",
    *,
    link: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
) -> Notification:
    """Add a notification for `user_id` (flushed, not committed). Long text is cut to fit."""
    row = Notification(
        user_id=user_id,
        kind=kind[:32],
        title=title[:200],
        body=body[:10_000],
        link=link[:500] if link else None,
        resource_type=resource_type[:64] if resource_type else None,
        resource_id=resource_id[:64] if resource_id else None,
    )
    session.add(row)
    await session.flush()
    return row


def _read(row: Notification) -> NotificationRead:
    return NotificationRead(
        id=row.id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        link=row.link,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        read=row.read_at is not None,
        read_at=row.read_at,
        created_at=row.created_at,
    )


async def list_notifications(
    session: AsyncSession,
    user: User,
    *,
    unread: bool | None,
    kind: str | None,
    page: int,
    page_size: int,
) -> NotificationList:
    rows, total = await repository.page(
        session, user.id, unread=unread, kind=kind, offset=(page - 1) * page_size, limit=page_size
    )
    return NotificationList(
        items=[_read(row) for row in rows],
        total=total,
        unread=await repository.unread_count(session, user.id),
        page=page,
        page_size=page_size,
    )


async def unread_count(session: AsyncSession, user: User) -> int:
    return await repository.unread_count(session, user.id)


def _not_found() -> NotFound:
    return NotFound("Notification not found", code="NOTIFICATION_NOT_FOUND")


async def mark_read(session: AsyncSession, user: User, notification_id: str) -> NotificationRead:
    """Idempotent: reading a read notification keeps its first read time."""
    row = await repository.get_own(session, user.id, notification_id)
    if row is None:
        raise _not_found()
    if row.read_at is None:
        row.read_at = utcnow()
        await session.flush()
    return _read(row)


async def mark_all_read(session: AsyncSession, user: User) -> int:
    return await repository.mark_all_read(session, user.id, utcnow())


async def delete(session: AsyncSession, user: User, notification_id: str) -> None:
    if not await repository.delete_own(session, user.id, notification_id):
        raise _not_found()
