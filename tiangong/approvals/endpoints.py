from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from tiangong.approvals import service
from tiangong.approvals.schemas import ApprovalDecide, ApprovalList
from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.workflows.schemas import RunDetail

router = APIRouter(prefix="/approval", tags=["approvals"])


@router.get("/pending", response_model=ApprovalList)
async def list_pending(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ApprovalList:
    """The caller's workflow approvals waiting for a decision, oldest first."""
    return await service.list_pending(session, user, page=page, page_size=page_size)


@router.post("/{approval_id}/decide", response_model=RunDetail)
async def decide(
    approval_id: Annotated[str, Path(max_length=100)],
    data: ApprovalDecide,
    session: SessionDep,
    user: CurrentUser,
    wait_s: Annotated[float, Query(ge=0, le=600)] = 0,
) -> RunDetail:
    """Approve or reject; the run continues (`wait_s`: wait that long for it). 409 if it was
    already decided."""
    return await service.decide(session, user, approval_id, data, wait_s=wait_s)
