"""Feedback rows and the messages they rate; every read filters on the scope's user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent
from tiangong.conversations.models import Conversation, Message
from tiangong.monitoring.figures import SAMPLE_ROWS, count_if
from tiangong.monitoring.scope import Scope
from tiangong.notices.models import Feedback

POSITIVE = Feedback.score >= 4
NEGATIVE = Feedback.score <= 2
NEUTRAL = Feedback.score == 3
# The analysis lists at most this many agents (those with the most ratings).
MAX_AGENTS = 100


async def own_message(
    session: AsyncSession, user_id: str, conversation_id: str, message_id: int
) -> tuple[Conversation, Message | None] | None:
    """The caller's conversation and the message in it, or None for a conversation the caller
    does not have."""
    conversation = (
        (
            await session.execute(
                select(Conversation).where(
                    Conversation.id == conversation_id, Conversation.user_id == user_id
                )
            )
        )
        .scalars()
        .first()
    )
    if conversation is None:
        return None
    message = (
        (
            await session.execute(
                select(Message).where(
                    Message.id == message_id, Message.conversation_id == conversation_id
                )
            )
        )
        .scalars()
        .first()
    )
    return conversation, message


async def get_by_message(session: AsyncSession, user_id: str, message_id: int) -> Feedback | None:
    stmt = select(Feedback).where(Feedback.user_id == user_id, Feedback.message_id == message_id)
    return (await session.execute(stmt)).scalars().first()


def _window(scope: Scope, since: datetime | None) -> list[ColumnElement[bool]]:
    found = [scope.owns(Feedback.user_id)]
    if since is not None:
        found.append(Feedback.created_at >= since)
    return found


def _figures() -> list[ColumnElement[Any]]:
    return [
        func.count(Feedback.id),
        count_if(POSITIVE),
        count_if(NEUTRAL),
        count_if(NEGATIVE),
        func.avg(Feedback.score),
    ]


async def totals(session: AsyncSession, scope: Scope, since: datetime) -> Sequence[Any]:
    """(total, positive, neutral, negative, avg score)."""
    return (await session.execute(select(*_figures()).where(*_window(scope, since)))).one()


async def per_agent(session: AsyncSession, scope: Scope, since: datetime) -> list[Sequence[Any]]:
    """(agent_id, agent name, total, positive, neutral, negative, avg score), busiest first."""
    count = func.count(Feedback.id)
    grouped = (
        select(Feedback.agent_id.label("agent_id"), *_figures())
        .where(*_window(scope, since))
        .group_by(Feedback.agent_id)
        .order_by(count.desc())
        .limit(MAX_AGENTS)
        .subquery()
    )
    stmt = select(grouped.c.agent_id, Agent.name, *list(grouped.c)[1:]).outerjoin(
        Agent, Agent.id == grouped.c.agent_id
    )
    return list((await session.execute(stmt)).all())


async def tags(
    session: AsyncSession, scope: Scope, since: datetime
) -> list[tuple[str | None, list[str]]]:
    """(agent_id, tags) of the newest SAMPLE_ROWS tagged-or-not ratings: tags are JSON lists,
    which the databases cannot group portably."""
    stmt = (
        select(Feedback.agent_id, Feedback.tags)
        .where(*_window(scope, since))
        .order_by(Feedback.created_at.desc())
        .limit(SAMPLE_ROWS)
    )
    return [
        (agent_id, list(found or [])) for agent_id, found in (await session.execute(stmt)).tuples()
    ]


async def negative_page(
    session: AsyncSession,
    scope: Scope,
    *,
    agent_id: str | None,
    since: datetime | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Feedback, Message]], int]:
    where = [*_window(scope, since), NEGATIVE]
    if agent_id is not None:
        where.append(Feedback.agent_id == agent_id)
    total = await session.scalar(select(func.count(Feedback.id)).where(*where))
    stmt = (
        select(Feedback, Message)
        .join(Message, Message.id == Feedback.message_id)
        .where(*where)
        .order_by(Feedback.created_at.desc(), Feedback.id)
        .offset(offset)
        .limit(limit)
    )
    return [(fb, msg) for fb, msg in (await session.execute(stmt)).tuples()], int(total or 0)


async def questions(session: AsyncSession, answers: list[Message]) -> dict[int, str]:
    """answer id -> the user message it answers: the user message of the same retry group, or
    else the conversation's last user message before the answer."""
    found: dict[int, str] = {}
    groups: dict[str, list[int]] = {}
    for answer in answers:
        if answer.retry_group_id:
            groups.setdefault(answer.retry_group_id, []).append(answer.id)
    if groups:
        stmt = select(Message.retry_group_id, Message.content).where(
            Message.retry_group_id.in_(list(groups)), Message.role == "user"
        )
        for group, content in (await session.execute(stmt)).tuples():
            for answer_id in groups.get(group or "", []):
                found[answer_id] = content
    for answer in answers:
        if answer.id in found:
            continue
        previous = (
            select(Message.content)
            .where(
                Message.conversation_id == answer.conversation_id,
                Message.role == "user",
                Message.id < answer.id,
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        asked = await session.scalar(previous)
        if asked is not None:
            found[answer.id] = asked
    return found
