"""Approvals are node runs waiting for a decision; every query is scoped to the run's owner."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.workflows.models import Workflow, WorkflowNodeRun, WorkflowRun

Row = tuple[WorkflowNodeRun, WorkflowRun, Workflow]


def _own(user: User) -> Select[WorkflowNodeRun, WorkflowRun, Workflow]:
    return (
        select(WorkflowNodeRun, WorkflowRun, Workflow)
        .join(WorkflowRun, WorkflowRun.id == WorkflowNodeRun.run_id)
        .join(Workflow, Workflow.id == WorkflowRun.workflow_id)
        .where(WorkflowRun.owner_id == user.id, WorkflowNodeRun.approval_id.is_not(None))
    )


async def list_pending(
    session: AsyncSession, user: User, *, offset: int, limit: int
) -> tuple[list[Row], int]:
    # Only a paused run can take a decision; a waiting node of a still-running run shows up
    # once the run has paused.
    stmt = _own(user).where(WorkflowNodeRun.status == "waiting", WorkflowRun.status == "paused")
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(WorkflowNodeRun.updated_at, WorkflowNodeRun.id).offset(offset).limit(limit)
    )
    return [(node, run, workflow) for node, run, workflow in rows.tuples()], int(total)


async def get(session: AsyncSession, user: User, approval_id: str) -> Row | None:
    stmt = _own(user).where(WorkflowNodeRun.approval_id == approval_id)
    row = (await session.execute(stmt)).tuples().first()
    return (row[0], row[1], row[2]) if row is not None else None
