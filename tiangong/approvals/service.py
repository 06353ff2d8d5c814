from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.approvals import repository
from tiangong.approvals.schemas import ApprovalDecide, ApprovalList, ApprovalRead
from tiangong.auth.models import User
from tiangong.errors import Conflict, NotFound
from tiangong.workflows import service as workflows
from tiangong.workflows.schemas import Decision, ResumeRequest, RunDetail


def _read(row: repository.Row) -> ApprovalRead:
    node, run, workflow = row
    # The node's inputs are its config as it ran: title, description and data resolved.
    config = node.inputs or {}
    data = config.get("data")
    return ApprovalRead(
        approval_id=str(node.approval_id),
        run_id=run.id,
        workflow_id=workflow.id,
        workflow_name=workflow.name,
        node_id=node.node_id,
        title=str(config.get("title") or node.node_id),
        message=str(config.get("description") or ""),
        data=data if isinstance(data, dict) else {},
        waiting_since=node.updated_at,
    )


async def list_pending(
    session: AsyncSession, user: User, *, page: int, page_size: int
) -> ApprovalList:
    rows, total = await repository.list_pending(
        session, user, offset=(page - 1) * page_size, limit=page_size
    )
    return ApprovalList(items=[_read(r) for r in rows], total=total, page=page, page_size=page_size)


async def decide(
    session: AsyncSession, user: User, approval_id: str, data: ApprovalDecide, *, wait_s: float
) -> RunDetail:
    """Resume the run with this decision, as POST /executions/{id}/resume would."""
    row = await repository.get(session, user, approval_id)
    if row is None:
        raise NotFound("Approval not found", code="APPROVAL_NOT_FOUND")
    node, run, _ = row
    if node.status != "waiting":
        raise Conflict("this approval has already been decided", code="APPROVAL_DECIDED")
    request = ResumeRequest(decisions={approval_id: Decision(**data.model_dump())})
    return await workflows.resume(session, user, run.id, request, wait_s=wait_s)
