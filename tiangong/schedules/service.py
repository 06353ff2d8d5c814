from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.errors import NotFound, ValidationFailed
from tiangong.schedules import repository, scheduler
from tiangong.schedules.cron import next_after, next_times
from tiangong.schedules.models import AgentSchedule, ScheduleRun
from tiangong.schedules.schemas import (
    AgentPayload,
    PreviewRequest,
    PreviewResult,
    ScheduleCreate,
    ScheduleDetail,
    ScheduleList,
    ScheduleRead,
    ScheduleRunList,
    ScheduleRunRead,
    ScheduleUpdate,
    WorkflowPayload,
)

PREVIEW_COUNT = 5
MAX_PAYLOAD_BYTES = 64 * 1024
# A workflow run's status as the history shows it.
_RUN_STATUS = {"succeeded": "succeeded", "failed": "failed", "cancelled": "failed"}


def _payload(target_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    model: type[BaseModel] = AgentPayload if target_type == "agent" else WorkflowPayload
    try:
        checked = model.model_validate(payload)
    except ValidationError as exc:
        details = [
            {"field": ".".join(("payload", *map(str, e["loc"]))), "message": e["msg"]}
            for e in exc.errors()
        ]
        raise ValidationFailed(
            f"invalid payload for a {target_type} target", details=details
        ) from exc
    if len(json.dumps(payload, default=str)) > MAX_PAYLOAD_BYTES:
        raise ValidationFailed(f"payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    return checked.model_dump()


async def _own(session: AsyncSession, user: User, schedule_id: str) -> AgentSchedule:
    schedule = await repository.get_own(session, user, schedule_id)
    if schedule is None:
        raise NotFound("Schedule not found", code="SCHEDULE_NOT_FOUND")
    return schedule


def _detail(schedule: AgentSchedule) -> ScheduleDetail:
    detail = ScheduleDetail.model_validate(schedule)
    detail.next_runs = next_times(schedule.cron, schedule.timezone, utcnow(), PREVIEW_COUNT)
    return detail


def preview(data: PreviewRequest) -> PreviewResult:
    return PreviewResult(next_runs=next_times(data.cron, data.timezone, utcnow(), data.count))


async def list_schedules(
    session: AsyncSession,
    user: User,
    *,
    target_type: str | None,
    target_id: str | None,
    enabled: bool | None,
    page: int,
    page_size: int,
) -> ScheduleList:
    rows, total = await repository.list_own(
        session,
        user,
        target_type=target_type,
        target_id=target_id,
        enabled=enabled,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [ScheduleRead.model_validate(row) for row in rows]
    return ScheduleList(items=items, total=total, page=page, page_size=page_size)


async def create(session: AsyncSession, user: User, data: ScheduleCreate) -> ScheduleDetail:
    payload = _payload(data.target_type, data.payload)
    next_run_at = next_after(data.cron, data.timezone, utcnow())
    if not await repository.owns_target(session, user, data.target_type, data.target_id):
        raise NotFound(f"{data.target_type} not found", code="SCHEDULE_TARGET_NOT_FOUND")
    schedule = AgentSchedule(
        owner_id=user.id,
        **data.model_dump(exclude={"payload"}),
        payload=payload,
        next_run_at=next_run_at if data.enabled else None,
    )
    await repository.add(session, schedule)
    await session.refresh(schedule)
    return _detail(schedule)


async def get(session: AsyncSession, user: User, schedule_id: str) -> ScheduleDetail:
    return _detail(await _own(session, user, schedule_id))


async def update(
    session: AsyncSession, user: User, schedule_id: str, data: ScheduleUpdate
) -> ScheduleDetail:
    schedule = await _own(session, user, schedule_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "payload" in changes:
        changes["payload"] = _payload(schedule.target_type, changes["payload"])
    for key, value in changes.items():
        setattr(schedule, key, value)
    if {"cron", "timezone", "enabled"} & set(changes):
        # Re-enabling starts from now: times missed while disabled are not fired.
        following = next_after(schedule.cron, schedule.timezone, utcnow())
        schedule.next_run_at = following if schedule.enabled else None
    await session.flush()
    await session.refresh(schedule)
    return _detail(schedule)


async def delete(session: AsyncSession, user: User, schedule_id: str) -> None:
    await repository.delete_schedule(session, await _own(session, user, schedule_id))


async def trigger(session: AsyncSession, user: User, schedule_id: str) -> ScheduleRunRead:
    """Fire now, whether enabled or not; the cron times are not touched."""
    schedule = await _own(session, user, schedule_id)
    now = utcnow()
    row = ScheduleRun(schedule_id=schedule.id, due_at=now, trigger="manual", started_at=now)
    await repository.add(session, row)
    target = scheduler.Target.of(schedule)
    # fire() writes the row from its own transactions: ours must be committed first.
    await session.commit()
    await scheduler.fire(row.id, target)
    await session.refresh(row)
    return (await _with_outcomes(session, schedule, [row]))[0]


async def _with_outcomes(
    session: AsyncSession, schedule: AgentSchedule, rows: list[ScheduleRun]
) -> list[ScheduleRunRead]:
    """A workflow firing's outcome is its run's, read when asked (the run may pause or resume
    long after the scheduler let go of it)."""
    items = [ScheduleRunRead.model_validate(row) for row in rows]
    if schedule.target_type != "workflow":
        return items
    ids = [item.result_id for item in items if item.status == "running" and item.result_id]
    runs = await repository.workflow_runs(session, ids)
    for item in items:
        run = runs.get(item.result_id or "")
        if run is not None and item.status == "running" and run.status in _RUN_STATUS:
            item.status = _RUN_STATUS[run.status]
            item.error = run.error
            item.finished_at = run.finished_at
    return items


async def list_runs(
    session: AsyncSession, user: User, schedule_id: str, *, page: int, page_size: int
) -> ScheduleRunList:
    schedule = await _own(session, user, schedule_id)
    rows, total = await repository.list_runs(
        session, schedule.id, offset=(page - 1) * page_size, limit=page_size
    )
    items = await _with_outcomes(session, schedule, rows)
    return ScheduleRunList(items=items, total=total, page=page, page_size=page_size)
