"""Every query is scoped to the owner: another user's workflow or run is simply not found."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.workflows.models import Workflow, WorkflowNodeRun, WorkflowRun, WorkflowVersion

T = TypeVar("T")


async def list_own(
    session: AsyncSession, user: User, *, search: str | None, offset: int, limit: int
) -> tuple[list[Workflow], int]:
    stmt = select(Workflow).where(Workflow.owner_id == user.id)
    if search:
        stmt = stmt.where(Workflow.name.icontains(search, autoescape=True))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(Workflow.created_at.desc(), Workflow.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_own(session: AsyncSession, user: User, workflow_id: str) -> Workflow | None:
    stmt = select(Workflow).where(Workflow.id == workflow_id, Workflow.owner_id == user.id)
    return (await session.execute(stmt)).scalars().first()


async def list_versions(session: AsyncSession, workflow_id: str) -> list[WorkflowVersion]:
    stmt = (
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow_id)
        .order_by(WorkflowVersion.version)
    )
    return list((await session.execute(stmt)).scalars())


async def get_version(
    session: AsyncSession, workflow_id: str, version: int
) -> WorkflowVersion | None:
    stmt = select(WorkflowVersion).where(
        WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.version == version
    )
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def delete_workflow(session: AsyncSession, workflow: Workflow) -> None:
    """Node runs, runs, versions, then the workflow; explicit, not left to FK cascades."""
    runs = select(WorkflowRun.id).where(WorkflowRun.workflow_id == workflow.id)
    await session.execute(delete(WorkflowNodeRun).where(WorkflowNodeRun.run_id.in_(runs)))
    await session.execute(delete(WorkflowRun).where(WorkflowRun.workflow_id == workflow.id))
    await session.execute(delete(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow.id))
    await session.execute(delete(Workflow).where(Workflow.id == workflow.id))
    await session.flush()


async def get_run(session: AsyncSession, user: User, run_id: str) -> WorkflowRun | None:
    stmt = (
        select(WorkflowRun)
        .where(WorkflowRun.id == run_id, WorkflowRun.owner_id == user.id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalars().first()


# A run that keeps changing gets its latest pair after this many tries.
_READS = 3


async def with_run(
    session: AsyncSession, run: WorkflowRun, read: Callable[[], Awaitable[T]]
) -> tuple[WorkflowRun, T]:
    """`run` and what `read` reads of its other rows (its nodes), as of one moment.

    On PostgreSQL each statement reads its own snapshot, and a checkpoint batch that moves
    the run on (queued -> running) and records nodes can commit between the two reads. So
    the run row is checked after `read`, and both are read again if it changed (every write
    of it sets updated_at)."""
    for _ in range(_READS):
        found = await read()
        stmt = select(WorkflowRun.status, WorkflowRun.updated_at).where(WorkflowRun.id == run.id)
        stamp = (await session.execute(stmt)).first()
        if stamp is None or (stamp[0], stamp[1]) == (run.status, run.updated_at):
            break
        again = select(WorkflowRun).where(WorkflowRun.id == run.id)
        fresh = (await session.execute(again.execution_options(populate_existing=True))).scalar()
        if fresh is None:
            break
        run = fresh
    return run, found


async def run_by_key(session: AsyncSession, user: User, key: str) -> WorkflowRun | None:
    stmt = select(WorkflowRun).where(
        WorkflowRun.owner_id == user.id, WorkflowRun.idempotency_key == key
    )
    return (await session.execute(stmt)).scalars().first()


async def list_runs(
    session: AsyncSession,
    user: User,
    *,
    workflow_id: str | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[WorkflowRun], int]:
    stmt = select(WorkflowRun).where(WorkflowRun.owner_id == user.id)
    if workflow_id:
        stmt = stmt.where(WorkflowRun.workflow_id == workflow_id)
    if status:
        stmt = stmt.where(WorkflowRun.status == status)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(WorkflowRun.created_at.desc(), WorkflowRun.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def node_runs(session: AsyncSession, run_id: str) -> list[WorkflowNodeRun]:
    stmt = (
        select(WorkflowNodeRun)
        .where(WorkflowNodeRun.run_id == run_id)
        .order_by(WorkflowNodeRun.created_at, WorkflowNodeRun.node_id)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars())
