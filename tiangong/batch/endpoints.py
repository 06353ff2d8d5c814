from __future__ import annotations

from fastapi import APIRouter

from tiangong.auth.deps import CurrentUser
from tiangong.batch import service
from tiangong.batch.schemas import (
    BatchDeleteResult,
    BatchExecuteRequest,
    BatchExecuteResult,
    BatchExportResult,
    BatchIds,
)
from tiangong.db.session import SessionDep

router = APIRouter(prefix="/batch", tags=["batch"])


@router.post("/execute", response_model=BatchExecuteResult, status_code=202)
async def batch_execute(
    data: BatchExecuteRequest, session: SessionDep, user: CurrentUser
) -> BatchExecuteResult:
    """One async run per item of `inputs` (1..100); the run ids in the same order."""
    return await service.execute(session, user, data)


@router.post("/export", response_model=BatchExportResult)
async def batch_export(data: BatchIds, session: SessionDep, user: CurrentUser) -> BatchExportResult:
    """Export documents of the listed workflows the caller owns; the rest in `not_found`."""
    return await service.export(session, user, data.workflow_ids)


@router.post("/delete", response_model=BatchDeleteResult)
async def batch_delete(data: BatchIds, session: SessionDep, user: CurrentUser) -> BatchDeleteResult:
    """Deletes the listed workflows the caller owns (with their runs, schedules and webhook)."""
    return await service.delete(session, user, data.workflow_ids)
