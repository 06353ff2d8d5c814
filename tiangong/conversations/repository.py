"""Conversation and message queries; every conversation read is scoped to its user."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.conversations.models import Conversation, Message


async def get_owned(
    session: AsyncSession, user_id: str, conversation_id: str
) -> Conversation | None:
    stmt = select(Conversation).where(
        Conversation.id == conversation_id, Conversation.user_id == user_id
    )
    return (await session.execute(stmt)).scalars().first()


def _listing(user_id: str, sources: Sequence[str], status: str | None) -> Select[Conversation]:
    stmt = select(Conversation).where(Conversation.user_id == user_id)
    if sources:
        stmt = stmt.where(Conversation.source.in_(sources))
    if status:
        stmt = stmt.where(Conversation.status == status)
    return stmt


async def list_owned(
    session: AsyncSession,
    user_id: str,
    *,
    sources: Sequence[str] = (),
    status: str | None = None,
    offset: int,
    limit: int,
) -> tuple[list[Conversation], int]:
    stmt = _listing(user_id, sources, status)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    order = (
        func.coalesce(Conversation.last_message_at, Conversation.created_at).desc(),
        Conversation.id,
    )
    rows = await session.execute(stmt.order_by(*order).offset(offset).limit(limit))
    return list(rows.scalars()), int(total)


async def messages(session: AsyncSession, conversation_id: str) -> list[Message]:
    stmt = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    return list((await session.execute(stmt)).scalars())


async def message_in(
    session: AsyncSession, conversation_id: str, message_id: int
) -> Message | None:
    stmt = select(Message).where(
        Message.id == message_id, Message.conversation_id == conversation_id
    )
    return (await session.execute(stmt)).scalars().first()


async def group_members(
    session: AsyncSession, conversation_id: str, group_id: str
) -> list[Message]:
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.retry_group_id == group_id)
        .order_by(Message.id)
    )
    return list((await session.execute(stmt)).scalars())


async def get_message(session: AsyncSession, message_id: int) -> Message | None:
    return await session.get(Message, message_id)
