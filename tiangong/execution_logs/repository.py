"""Every query is scoped to the owner: another user's run is simply not found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.execution_logs.models import LogRetentionPolicy
from tiangong.workflows.models import Workflow, WorkflowNodeRun, WorkflowRun, WorkflowVersion

FINISHED = ("succeeded", "failed", "cancelled")


def _contains(column: Any, q: str) -> ColumnElement[bool]:
    # lower(..) LIKE lower(..) with % and _ escaped: the same on SQLite, PostgreSQL and MySQL.
    return column.icontains(q, autoescape=True)  # type: ignore[no-any-return]


def _error_matches(error: Any, q: str) -> ColumnElement[bool]:
    # Extract the string fields rather than casting the JSON to text: the stored text escapes
    # non-ASCII characters, so a cast would never match a Chinese error message.
    return or_(_contains(error["code"].as_string(), q), _contains(error["message"].as_string(), q))


def _search(q: str) -> ColumnElement[bool]:
    node_matches = exists().where(
        WorkflowNodeRun.run_id == WorkflowRun.id,
        or_(
            _contains(WorkflowNodeRun.node_id, q),
            _contains(WorkflowNodeRun.node_type, q),
            _error_matches(WorkflowNodeRun.error, q),
        ),
    )
    return or_(
        _contains(Workflow.name, q),
        _contains(WorkflowRun.id, q),
        _error_matches(WorkflowRun.error, q),
        node_matches,
    )


async def list_runs(
    session: AsyncSession,
    user: User,
    *,
    workflow_id: str | None,
    status: str | None,
    trigger: str | None,
    since: datetime | None,
    until: datetime | None,
    q: str | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[WorkflowRun, str | None]], int]:
    stmt = (
        select(WorkflowRun, Workflow.name)
        .outerjoin(Workflow, Workflow.id == WorkflowRun.workflow_id)
        .where(WorkflowRun.owner_id == user.id)
    )
    if workflow_id:
        stmt = stmt.where(WorkflowRun.workflow_id == workflow_id)
    if status:
        stmt = stmt.where(WorkflowRun.status == status)
    if trigger:
        stmt = stmt.where(WorkflowRun.trigger == trigger)
    if since:
        stmt = stmt.where(WorkflowRun.created_at >= since)
    if until:
        stmt = stmt.where(WorkflowRun.created_at < until)
    if q:
        stmt = stmt.where(_search(q))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(WorkflowRun.created_at.desc(), WorkflowRun.id).offset(offset).limit(limit)
    )
    return [(run, name) for run, name in rows.tuples()], int(total)


async def get_run(
    session: AsyncSession, user: User, run_id: str
) -> tuple[WorkflowRun, str | None] | None:
    stmt = (
        select(WorkflowRun, Workflow.name)
        .outerjoin(Workflow, Workflow.id == WorkflowRun.workflow_id)
        .where(WorkflowRun.id == run_id, WorkflowRun.owner_id == user.id)
    )
    row = (await session.execute(stmt)).tuples().first()
    return (row[0], row[1]) if row is not None else None


async def node_runs(session: AsyncSession, run_ids: Sequence[str]) -> list[WorkflowNodeRun]:
    if not run_ids:
        return []
    stmt = select(WorkflowNodeRun).where(WorkflowNodeRun.run_id.in_(list(run_ids)))
    return list((await session.execute(stmt)).scalars())


async def node_run(session: AsyncSession, run_id: str, node_id: str) -> WorkflowNodeRun | None:
    stmt = select(WorkflowNodeRun).where(
        WorkflowNodeRun.run_id == run_id, WorkflowNodeRun.node_id == node_id
    )
    return (await session.execute(stmt)).scalars().first()


async def child_runs(
    session: AsyncSession, user: User, parent_ids: Sequence[str], limit: int
) -> list[tuple[WorkflowRun, str | None]]:
    if not parent_ids:
        return []
    stmt = (
        select(WorkflowRun, Workflow.name)
        .outerjoin(Workflow, Workflow.id == WorkflowRun.workflow_id)
        .where(WorkflowRun.owner_id == user.id, WorkflowRun.parent_run_id.in_(list(parent_ids)))
        .order_by(WorkflowRun.created_at, WorkflowRun.id)
        .limit(limit)
    )
    return [(run, name) for run, name in (await session.execute(stmt)).tuples()]


async def definition(session: AsyncSession, run: WorkflowRun) -> dict[str, Any] | None:
    """The definition the run executed (its version snapshot)."""
    stmt = select(WorkflowVersion.snapshot).where(
        WorkflowVersion.workflow_id == run.workflow_id, WorkflowVersion.version == run.version
    )
    snapshot = (await session.execute(stmt)).scalars().first()
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("definition"), dict):
        return None
    return snapshot["definition"]  # type: ignore[no-any-return]


async def runs_since(
    session: AsyncSession, user: User, since: datetime, workflow_id: str | None
) -> list[tuple[str, datetime, datetime | None, datetime | None]]:
    stmt = select(
        WorkflowRun.status, WorkflowRun.created_at, WorkflowRun.started_at, WorkflowRun.finished_at
    ).where(WorkflowRun.owner_id == user.id, WorkflowRun.created_at >= since)
    if workflow_id:
        stmt = stmt.where(WorkflowRun.workflow_id == workflow_id)
    rows = (await session.execute(stmt)).tuples()
    return [(status, created, started, finished) for status, created, started, finished in rows]


async def failing_nodes(
    session: AsyncSession, user: User, since: datetime, workflow_id: str | None, limit: int
) -> list[tuple[str, str, str, int]]:
    failures = func.count(WorkflowNodeRun.id)
    stmt = (
        select(
            WorkflowRun.workflow_id, WorkflowNodeRun.node_id, WorkflowNodeRun.node_type, failures
        )
        .join(WorkflowRun, WorkflowRun.id == WorkflowNodeRun.run_id)
        .where(
            WorkflowRun.owner_id == user.id,
            WorkflowRun.created_at >= since,
            WorkflowNodeRun.status == "failed",
        )
        .group_by(WorkflowRun.workflow_id, WorkflowNodeRun.node_id, WorkflowNodeRun.node_type)
        .order_by(failures.desc(), WorkflowNodeRun.node_id)
        .limit(limit)
    )
    if workflow_id:
        stmt = stmt.where(WorkflowRun.workflow_id == workflow_id)
    rows = (await session.execute(stmt)).tuples()
    return [(wf, node, kind, int(count)) for wf, node, kind, count in rows]


async def policy(session: AsyncSession, user: User) -> LogRetentionPolicy | None:
    stmt = select(LogRetentionPolicy).where(LogRetentionPolicy.owner_id == user.id)
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, row: object) -> None:
    session.add(row)
    await session.flush()
