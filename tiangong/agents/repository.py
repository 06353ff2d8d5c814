"""Every query here is scoped: users see their own agents; admins see all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from sqlalchemy import ColumnElement, Executable, Select, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent, AgentVersion
from tiangong.auth.models import User
from tiangong.conversations.models import Conversation
from tiangong.goals.models import Goal, GoalTask
from tiangong.llm_logs.models import LLMCallLog
from tiangong.permissions.models import ResourceGrant
from tiangong.permissions.scope import granted_ids

# What the caller needs: "owner" (owners and admins), "edit" or "view" (grantees too).
Access = Literal["owner", "edit", "view"]


def _scope(user: User, access: Access = "owner") -> ColumnElement[bool]:
    if user.is_admin:
        return true()
    if access == "owner":
        return Agent.owner_id == user.id
    return or_(Agent.owner_id == user.id, Agent.id.in_(granted_ids(user.id, "agent", access)))


def _visible(user: User, access: Access = "owner") -> Select[Agent]:
    return select(Agent).where(_scope(user, access))


async def list_visible(
    session: AsyncSession,
    user: User,
    *,
    search: str | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Agent], int]:
    stmt = _visible(user, "view")
    if search:
        stmt = stmt.where(
            or_(
                Agent.name.icontains(search, autoescape=True),
                Agent.description.icontains(search, autoescape=True),
            )
        )
    if status:
        stmt = stmt.where(Agent.status == status)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(Agent.created_at.desc(), Agent.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_visible(
    session: AsyncSession, user: User, agent_id: str, access: Access = "owner"
) -> Agent | None:
    stmt = _visible(user, access).where(Agent.id == agent_id)
    return (await session.execute(stmt)).scalars().first()


def _versions(user: User, agent_id: str) -> Select[AgentVersion]:
    return (
        select(AgentVersion)
        .join(Agent, Agent.id == AgentVersion.agent_id)
        .where(AgentVersion.agent_id == agent_id, _scope(user, "view"))
    )


async def list_versions(session: AsyncSession, user: User, agent_id: str) -> list[AgentVersion]:
    rows = await session.execute(_versions(user, agent_id).order_by(AgentVersion.version))
    return list(rows.scalars())


async def get_version(
    session: AsyncSession, user: User, agent_id: str, version: int
) -> AgentVersion | None:
    stmt = _versions(user, agent_id).where(AgentVersion.version == version)
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, *rows: Agent | AgentVersion) -> None:
    session.add_all(rows)
    await session.flush()


async def clear_main(session: AsyncSession, owner_id: str) -> None:
    await session.execute(
        update(Agent)
        .where(Agent.owner_id == owner_id, Agent.is_main.is_(True))
        .values(is_main=False)
    )


# Rows elsewhere that point at an agent, cleared before the agent goes. Each module that adds a
# table referring to agents (permissions, schedules, executions, team members, goals, tasks) adds
# one line here; relying on FK cascades alone broke deletes when a new table forgot its ondelete.
_CLEANUP: tuple[Callable[[str], Executable], ...] = (
    lambda agent_id: (
        update(Conversation).where(Conversation.agent_id == agent_id).values(agent_id=None)
    ),
    lambda agent_id: (
        update(LLMCallLog).where(LLMCallLog.agent_id == agent_id).values(agent_id=None)
    ),
    lambda agent_id: delete(AgentVersion).where(AgentVersion.agent_id == agent_id),
    lambda agent_id: update(Goal).where(Goal.agent_id == agent_id).values(agent_id=None),
    lambda agent_id: update(GoalTask).where(GoalTask.agent_id == agent_id).values(agent_id=None),
    lambda agent_id: delete(ResourceGrant).where(
        ResourceGrant.resource_type == "agent", ResourceGrant.resource_id == agent_id
    ),
)


async def delete_agent(session: AsyncSession, agent: Agent) -> None:
    """Unbind or remove everything that refers to the agent, then the agent; one transaction."""
    for step in _CLEANUP:
        await session.execute(step(agent.id))
    await session.execute(delete(Agent).where(Agent.id == agent.id))
    await session.flush()
