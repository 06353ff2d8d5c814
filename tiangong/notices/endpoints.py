from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.notices import service
from tiangong.notices.schemas import NotificationList, NotificationRead, ReadAllResult, UnreadCount

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("", response_model=NotificationList)
async def list_notifications(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    unread: Annotated[bool | None, Query(description="true: unread only; false: read only")] = None,
    kind: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
) -> NotificationList:
    """The caller's notifications, newest first."""
    return await service.list_notifications(
        session, user, unread=unread, kind=kind, page=page, page_size=page_size
    )


@router.get("/unread-count", response_model=UnreadCount)
async def unread_count(session: SessionDep, user: CurrentUser) -> UnreadCount:
    return UnreadCount(unread=await service.unread_count(session, user))


# Declared before /{notification_id}/read so "read-all" is never taken for an id.
@router.put("/read-all", response_model=ReadAllResult)
async def mark_all_read(session: SessionDep, user: CurrentUser) -> ReadAllResult:
    return ReadAllResult(updated=await service.mark_all_read(session, user))


@router.put("/{notification_id}/read", response_model=NotificationRead)
async def mark_read(
    notification_id: str, session: SessionDep, user: CurrentUser
) -> NotificationRead:
    return await service.mark_read(session, user, notification_id)


@router.delete("/{notification_id}", status_code=204)
async def delete_notification(
    notification_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    await service.delete(session, user, notification_id)
    return Response(status_code=204)
