from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from tiangong.db.session import SessionDep
from tiangong.monitoring.scope import ScopeDep
from tiangong.notices.audit import service
from tiangong.notices.audit.repository import AuditFilter
from tiangong.notices.audit.schemas import AuditLogList, AuditStats

router = APIRouter(prefix="/audit-logs", tags=["audit logs"])


@router.get("", response_model=AuditLogList)
async def list_audit_logs(
    session: SessionDep,
    scope: ScopeDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    resource_type: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    resource_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    method: Literal["POST", "PUT", "PATCH", "DELETE"] | None = None,
    user_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditLogList:
    """Mutating API requests, newest first: the caller's own, or everyone's with scope=all
    (administrators). Entries are written in batches about a second after the request."""
    where = AuditFilter(
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        method=method,
        user_id=user_id,
        since=since,
        until=until,
    )
    return await service.list_entries(session, scope, where, page=page, page_size=page_size)


@router.get("/stats", response_model=AuditStats)
async def audit_stats(
    session: SessionDep, scope: ScopeDep, days: Annotated[int, Query(ge=1, le=365)] = 7
) -> AuditStats:
    """Counts by action, resource type, method and day over the last `days` days (UTC)."""
    return await service.stats(session, scope, days=days)
