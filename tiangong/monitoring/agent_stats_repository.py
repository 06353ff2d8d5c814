"""The SQL behind /agent-monitoring/agents-stats: a page of the scope's agents, busiest first,
and their conversations and messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent
from tiangong.conversations.models import Conversation, Message
from tiangong.llm_logs.models import LLMCallLog
from tiangong.monitoring.agent_repository import FIGURES, CallFigures, CallFilter, per_agent
from tiangong.monitoring.figures import as_int
from tiangong.monitoring.scope import Scope


async def agents_page(
    session: AsyncSession, scope: Scope, where: CallFilter, *, offset: int, limit: int
) -> tuple[list[tuple[Agent, CallFigures]], int]:
    """Agents with their call figures over the window, ordered by calls, then name."""
    owned = scope.owns(Agent.owner_id)
    total = await session.scalar(select(func.count(Agent.id)).where(owned))
    calls = per_agent(scope, where).subquery()
    stmt = (
        select(Agent, *(calls.c[name] for name in FIGURES))
        .outerjoin(calls, calls.c.agent_id == Agent.id)
        .where(owned)
        .order_by(func.coalesce(calls.c.calls, 0).desc(), Agent.name, Agent.id)
        .offset(offset)
        .limit(limit)
    )
    rows = await session.execute(stmt)
    return [(agent, CallFigures.of(rest)) for agent, *rest in rows], as_int(total)


def _conversations(scope: Scope, agent_ids: Sequence[str]) -> list[Any]:
    return [Conversation.agent_id.in_(list(agent_ids)), scope.owns(Conversation.user_id)]


async def conversations(
    session: AsyncSession, scope: Scope, agent_ids: Sequence[str], since: datetime
) -> dict[str, int]:
    stmt = (
        select(Conversation.agent_id, func.count(Conversation.id))
        .where(*_conversations(scope, agent_ids), Conversation.created_at >= since)
        .group_by(Conversation.agent_id)
    )
    return {agent: as_int(n) for agent, n in (await session.execute(stmt)).tuples() if agent}


async def messages(
    session: AsyncSession, scope: Scope, agent_ids: Sequence[str], since: datetime
) -> dict[str, int]:
    stmt = (
        select(Conversation.agent_id, func.count(Message.id))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(*_conversations(scope, agent_ids), Message.created_at >= since)
        .group_by(Conversation.agent_id)
    )
    return {agent: as_int(n) for agent, n in (await session.execute(stmt)).tuples() if agent}


async def last_active(
    session: AsyncSession, scope: Scope, agent_ids: Sequence[str]
) -> dict[str, datetime]:
    """The latest call or conversation message of each agent, at any time."""
    calls = (
        select(LLMCallLog.agent_id, func.max(LLMCallLog.created_at))
        .where(LLMCallLog.agent_id.in_(list(agent_ids)), scope.owns(LLMCallLog.user_id))
        .group_by(LLMCallLog.agent_id)
    )
    chats = (
        select(Conversation.agent_id, func.max(Conversation.last_message_at))
        .where(*_conversations(scope, agent_ids))
        .group_by(Conversation.agent_id)
    )
    latest: dict[str, datetime] = {}
    for stmt in (calls, chats):
        for agent, at in (await session.execute(stmt)).tuples():
            if agent and at is not None and (agent not in latest or at > latest[agent]):
                latest[agent] = at
    return latest
