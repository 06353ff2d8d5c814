from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.schedules import service
from tiangong.schedules.schemas import (
    PreviewRequest,
    PreviewResult,
    ScheduleCreate,
    ScheduleDetail,
    ScheduleList,
    ScheduleRunList,
    ScheduleRunRead,
    ScheduleUpdate,
    TargetType,
)

router = APIRouter(prefix="/agent-schedules", tags=["schedules"])

ScheduleId = Annotated[str, Path(max_length=36)]
Page = Annotated[int, Query(ge=1)]
PageSize = Annotated[int, Query(ge=1, le=100)]


@router.get("", response_model=ScheduleList)
async def list_schedules(
    session: SessionDep,
    user: CurrentUser,
    target_type: Annotated[TargetType | None, Query()] = None,
    target_id: Annotated[str | None, Query(max_length=36)] = None,
    enabled: Annotated[bool | None, Query()] = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> ScheduleList:
    return await service.list_schedules(
        session,
        user,
        target_type=target_type,
        target_id=target_id,
        enabled=enabled,
        page=page,
        page_size=page_size,
    )


@router.post("", response_model=ScheduleDetail, status_code=201)
async def create_schedule(
    data: ScheduleCreate, session: SessionDep, user: CurrentUser
) -> ScheduleDetail:
    """`cron` has five fields (or an @alias) and is read in `timezone` (IANA name). Payload:
    `{"message": ...}` for an agent, `{"inputs": {...}}` for a workflow."""
    return await service.create(session, user, data)


@router.post("/preview", response_model=PreviewResult)
async def preview(data: PreviewRequest, user: CurrentUser) -> PreviewResult:
    """The next `count` fire times of a cron expression in a time zone; nothing is saved."""
    return service.preview(data)


@router.get("/{schedule_id}", response_model=ScheduleDetail)
async def get_schedule(
    schedule_id: ScheduleId, session: SessionDep, user: CurrentUser
) -> ScheduleDetail:
    return await service.get(session, user, schedule_id)


@router.put("/{schedule_id}", response_model=ScheduleDetail)
async def update_schedule(
    schedule_id: ScheduleId, data: ScheduleUpdate, session: SessionDep, user: CurrentUser
) -> ScheduleDetail:
    return await service.update(session, user, schedule_id, data)


@router.delete("/{schedule_id}", status_code=204)
async def delete_schedule(
    schedule_id: ScheduleId, session: SessionDep, user: CurrentUser
) -> Response:
    await service.delete(session, user, schedule_id)
    return Response(status_code=204)


@router.post("/{schedule_id}/trigger", response_model=ScheduleRunRead, status_code=202)
async def trigger_schedule(
    schedule_id: ScheduleId, session: SessionDep, user: CurrentUser
) -> ScheduleRunRead:
    """Fire now (a `manual` run); the schedule's cron times are unchanged."""
    return await service.trigger(session, user, schedule_id)


@router.get("/{schedule_id}/runs", response_model=ScheduleRunList)
async def list_runs(
    schedule_id: ScheduleId,
    session: SessionDep,
    user: CurrentUser,
    page: Page = 1,
    page_size: PageSize = 20,
) -> ScheduleRunList:
    """Firings, newest first. A workflow firing shows its run's outcome."""
    return await service.list_runs(session, user, schedule_id, page=page, page_size=page_size)
