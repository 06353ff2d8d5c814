"""Schedule queries scoped to the owner, plus the unscoped ones the scheduler needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent
from tiangong.auth.models import User
from tiangong.schedules.models import AgentSchedule, ScheduleRun
from tiangong.workflows.models import Workflow, WorkflowRun


async def list_own(
    session: AsyncSession,
    user: User,
    *,
    target_type: str | None,
    target_id: str | None,
    enabled: bool | None,
    offset: int,
    limit: int,
) -> tuple[list[AgentSchedule], int]:
    stmt = select(AgentSchedule).where(AgentSchedule.owner_id == user.id)
    if target_type:
        stmt = stmt.where(AgentSchedule.target_type == target_type)
    if target_id:
        stmt = stmt.where(AgentSchedule.target_id == target_id)
    if enabled is not None:
        stmt = stmt.where(AgentSchedule.enabled.is_(enabled))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(AgentSchedule.created_at.desc(), AgentSchedule.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_own(session: AsyncSession, user: User, schedule_id: str) -> AgentSchedule | None:
    stmt = select(AgentSchedule).where(
        AgentSchedule.id == schedule_id, AgentSchedule.owner_id == user.id
    )
    return (await session.execute(stmt)).scalars().first()


async def owns_target(session: AsyncSession, user: User, target_type: str, target_id: str) -> bool:
    table: Any = Agent if target_type == "agent" else Workflow
    stmt = select(table.id).where(table.id == target_id, table.owner_id == user.id)
    return (await session.execute(stmt)).first() is not None


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def delete_schedule(session: AsyncSession, schedule: AgentSchedule) -> None:
    await session.execute(delete(ScheduleRun).where(ScheduleRun.schedule_id == schedule.id))
    await session.execute(delete(AgentSchedule).where(AgentSchedule.id == schedule.id))
    await session.flush()


async def delete_for_target(session: AsyncSession, target_type: str, target_id: str) -> None:
    """With the agent or workflow they point at, in the caller's transaction."""
    ids = select(AgentSchedule.id).where(
        AgentSchedule.target_type == target_type, AgentSchedule.target_id == target_id
    )
    await session.execute(delete(ScheduleRun).where(ScheduleRun.schedule_id.in_(ids)))
    await session.execute(
        delete(AgentSchedule).where(
            AgentSchedule.target_type == target_type, AgentSchedule.target_id == target_id
        )
    )


async def list_runs(
    session: AsyncSession, schedule_id: str, *, offset: int, limit: int
) -> tuple[list[ScheduleRun], int]:
    stmt = select(ScheduleRun).where(ScheduleRun.schedule_id == schedule_id)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(ScheduleRun.due_at.desc(), ScheduleRun.created_at.desc())
        .offset(offset)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars()), int(total)


async def workflow_runs(session: AsyncSession, run_ids: list[str]) -> dict[str, WorkflowRun]:
    if not run_ids:
        return {}
    rows = await session.execute(select(WorkflowRun).where(WorkflowRun.id.in_(run_ids)))
    return {row.id: row for row in rows.scalars()}


async def due(session: AsyncSession, now: datetime, limit: int) -> list[AgentSchedule]:
    stmt = (
        select(AgentSchedule)
        .where(AgentSchedule.enabled.is_(True), AgentSchedule.next_run_at <= now)
        .order_by(AgentSchedule.next_run_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
