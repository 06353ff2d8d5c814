"""Batch operations over the caller's workflows; another user's ids are reported as not found."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.batch.schemas import (
    BatchDeleteResult,
    BatchExecuteRequest,
    BatchExecuteResult,
    BatchExportResult,
    ExportedWorkflow,
)
from tiangong.errors import NotFound
from tiangong.workflows import repository as workflows_repository
from tiangong.workflows import service as workflows_service
from tiangong.workflows.schemas import ExecuteRequest


async def _owned(session: AsyncSession, user: User, ids: list[str]) -> tuple[list[str], list[str]]:
    """(owned, not found), each in request order without repeats."""
    owned: list[str] = []
    missing: list[str] = []
    for workflow_id in dict.fromkeys(ids):
        found = await workflows_repository.get_own(session, user, workflow_id)
        (owned if found is not None else missing).append(workflow_id)
    return owned, missing


async def execute(
    session: AsyncSession, user: User, data: BatchExecuteRequest
) -> BatchExecuteResult:
    """Queues one async run per input. Each run commits as it is created, so an error midway
    (an idempotency key already used elsewhere) leaves the runs before it queued."""
    if await workflows_repository.get_own(session, user, data.workflow_id) is None:
        raise NotFound("Workflow not found", code="WORKFLOW_NOT_FOUND")
    run_ids = []
    for index, inputs in enumerate(data.inputs):
        key = f"{data.idempotency_key_prefix}-{index}" if data.idempotency_key_prefix else None
        request = ExecuteRequest(inputs=inputs, mode="async", idempotency_key=key)
        run, _ = await workflows_service.execute(
            session, user, data.workflow_id, request, trigger="batch"
        )
        run_ids.append(run.id)
    return BatchExecuteResult(workflow_id=data.workflow_id, run_ids=run_ids)


async def export(session: AsyncSession, user: User, ids: list[str]) -> BatchExportResult:
    owned, missing = await _owned(session, user, ids)
    items = [
        ExportedWorkflow(
            workflow_id=workflow_id,
            document=await workflows_service.export(session, user, workflow_id),
        )
        for workflow_id in owned
    ]
    return BatchExportResult(items=items, not_found=missing)


async def delete(session: AsyncSession, user: User, ids: list[str]) -> BatchDeleteResult:
    """All in the request's transaction: every listed workflow of the caller's goes, or none."""
    owned, missing = await _owned(session, user, ids)
    for workflow_id in owned:
        await workflows_service.delete(session, user, workflow_id)
    return BatchDeleteResult(deleted=owned, not_found=missing)
