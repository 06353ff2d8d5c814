"""Every query is scoped to the owner: another user's goal or task is simply not found.

State changes that two callers may race for (claiming a task, taking a goal's run) are
conditional UPDATEs: the row count says who won.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.db.base import utcnow
from tiangong.goals.models import Goal, GoalTask

UNFINISHED = ("pending", "claimed", "in_progress", "awaiting_approval", "failed")
IN_FLIGHT = ("claimed", "in_progress", "awaiting_approval")


async def list_goals(
    session: AsyncSession,
    owner_id: str,
    *,
    status: str | None,
    search: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Goal], int]:
    stmt = select(Goal).where(Goal.owner_id == owner_id)
    if status:
        stmt = stmt.where(Goal.status == status)
    if search:
        stmt = stmt.where(
            or_(
                Goal.title.icontains(search, autoescape=True),
                Goal.description.icontains(search, autoescape=True),
            )
        )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(Goal.created_at.desc(), Goal.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_goal(session: AsyncSession, owner_id: str, goal_id: str) -> Goal | None:
    stmt = select(Goal).where(Goal.id == goal_id, Goal.owner_id == owner_id)
    return (await session.execute(stmt)).scalars().first()


async def get_goal_by_id(session: AsyncSession, goal_id: str) -> Goal | None:
    """For the background run, which acts for the goal's owner."""
    return (await session.execute(select(Goal).where(Goal.id == goal_id))).scalars().first()


async def status_counts(
    session: AsyncSession, goal_ids: Iterable[str]
) -> dict[str, dict[str, int]]:
    """goal id -> task status -> count, in one query for a whole page of goals."""
    ids = list(goal_ids)
    if not ids:
        return {}
    stmt = (
        select(GoalTask.goal_id, GoalTask.status, func.count())
        .where(GoalTask.goal_id.in_(ids))
        .group_by(GoalTask.goal_id, GoalTask.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for goal_id, status, count in await session.execute(stmt):
        counts.setdefault(goal_id, {})[status] = int(count)
    return counts


async def tasks_of(session: AsyncSession, goal_id: str) -> list[GoalTask]:
    stmt = (
        select(GoalTask)
        .where(GoalTask.goal_id == goal_id)
        .order_by(GoalTask.order, GoalTask.created_at, GoalTask.id)
    )
    return list((await session.execute(stmt)).scalars())


async def list_tasks(
    session: AsyncSession,
    owner_id: str,
    *,
    goal_id: str | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[GoalTask], int]:
    stmt = select(GoalTask).where(GoalTask.owner_id == owner_id)
    if goal_id:
        stmt = stmt.where(GoalTask.goal_id == goal_id)
    if status:
        stmt = stmt.where(GoalTask.status == status)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(GoalTask.created_at.desc(), GoalTask.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_task(
    session: AsyncSession, owner_id: str, task_id: str, *, fresh: bool = False
) -> GoalTask | None:
    """`fresh`: as stored now, after conditional UPDATEs that bypass the loaded objects."""
    stmt = select(GoalTask).where(GoalTask.id == task_id, GoalTask.owner_id == owner_id)
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, *rows: Goal | GoalTask) -> None:
    session.add_all(rows)
    await session.flush()


async def delete_goal(session: AsyncSession, goal: Goal) -> None:
    # Children before parents would be needed without cascades; one statement clears them all.
    await session.execute(delete(GoalTask).where(GoalTask.goal_id == goal.id))
    await session.execute(delete(Goal).where(Goal.id == goal.id))
    await session.flush()


async def delete_tasks(session: AsyncSession, goal_id: str, task_ids: set[str]) -> None:
    """Remove the tasks and every mention of them in the goal's other tasks."""
    if not task_ids:
        return
    for task in await tasks_of(session, goal_id):
        if task.id in task_ids:
            # Gone after the DELETE below; the session must not flush or load it again.
            session.expunge(task)
            continue
        if task.parent_id in task_ids:
            task.parent_id = None
        if set(task.depends_on) & task_ids:
            task.depends_on = [d for d in task.depends_on if d not in task_ids]
    await session.flush()
    await session.execute(
        delete(GoalTask).where(GoalTask.goal_id == goal_id, GoalTask.id.in_(task_ids))
    )


async def transition(
    session: AsyncSession,
    task_id: str,
    from_states: Iterable[str],
    extra: Any = None,
    **values: Any,
) -> bool:
    """Move a task on only if it is still in one of `from_states`; True if this call won."""
    stmt = update(GoalTask).where(GoalTask.id == task_id, GoalTask.status.in_(list(from_states)))
    if extra is not None:
        stmt = stmt.where(extra)
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        stmt.values(**values).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def replace_interactions(
    session: AsyncSession, goal_id: str, seen_updated_at: Any, interactions: list[Any]
) -> bool:
    """Write the goal's chat history only if nothing wrote the goal since it was read."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(Goal)
        .where(Goal.id == goal_id, Goal.updated_at == seen_updated_at)
        .values(interactions=interactions, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def set_goal_status(
    session: AsyncSession, goal_id: str, from_states: Iterable[str], **values: Any
) -> bool:
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(Goal)
        .where(Goal.id == goal_id, Goal.status.in_(list(from_states)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def take_run(
    session: AsyncSession, goal_id: str, lease: str, now: datetime, stale: datetime
) -> bool:
    """Take the goal's run for `lease` if it is running and nobody live holds it."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(Goal)
        .where(
            Goal.id == goal_id,
            Goal.status == "running",
            or_(Goal.run_lease.is_(None), Goal.run_heartbeat_at < stale),
        )
        .values(run_lease=lease, run_heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def beat(session: AsyncSession, goal_id: str, lease: str, now: datetime) -> None:
    await session.execute(
        update(Goal)
        .where(Goal.id == goal_id, Goal.run_lease == lease)
        .values(run_heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )


async def drop_run(session: AsyncSession, goal_id: str, lease: str) -> None:
    await session.execute(
        update(Goal)
        .where(Goal.id == goal_id, Goal.run_lease == lease)
        .values(run_lease=None, run_heartbeat_at=None)
        .execution_options(synchronize_session=False)
    )


async def reset_orphans(session: AsyncSession, goal_id: str, lease: str) -> int:
    """Tasks a dead run left in progress go back to pending (their attempt stays counted)."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(GoalTask)
        .where(
            GoalTask.goal_id == goal_id,
            GoalTask.status == "in_progress",
            and_(GoalTask.run_lease.is_not(None), GoalTask.run_lease != lease),
        )
        .values(status="pending", run_lease=None, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


async def stale_runs(session: AsyncSession, stale: datetime) -> list[tuple[str, str | None]]:
    """(goal id, run lease) of goals running in the background whose run nobody holds any more:
    a lease without a heartbeat since `stale`, or no lease and not queued since then."""
    stmt = select(Goal.id, Goal.run_lease).where(
        Goal.status == "running",
        Goal.run_id.is_not(None),
        or_(Goal.run_heartbeat_at.is_(None), Goal.run_heartbeat_at < stale),
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def mark_queued(session: AsyncSession, goal_id: str, stale: datetime, now: datetime) -> bool:
    """Note that a run nobody holds is being queued again: its heartbeat (no lease) says when.
    The condition makes one process the one that queues it, at most once per `stale` window."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(Goal)
        .where(
            Goal.id == goal_id,
            Goal.status == "running",
            Goal.run_lease.is_(None),
            or_(Goal.run_heartbeat_at.is_(None), Goal.run_heartbeat_at < stale),
        )
        .values(run_heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def touch_task(session: AsyncSession, task_id: str, now: datetime) -> None:
    """The heartbeat of a task executed by hand (no run lease): it is still being worked on."""
    await session.execute(
        update(GoalTask)
        .where(GoalTask.id == task_id, GoalTask.status == "in_progress")
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )


async def fail_orphaned_tasks(session: AsyncSession, stale: datetime) -> int:
    """Tasks executed by hand whose process died (no heartbeat since `stale`) fail, so they can
    be retried instead of staying in progress for ever. Background runs recover their own."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(GoalTask)
        .where(
            GoalTask.status == "in_progress",
            GoalTask.run_lease.is_(None),
            GoalTask.updated_at < stale,
        )
        .values(
            status="failed",
            error="TASK_INTERRUPTED: the process running it stopped; retry it",
            finished_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
