from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from tiangong.auth.deps import AdminUser
from tiangong.db.session import SessionDep
from tiangong.monitoring.scope import ScopeDep
from tiangong.notices.system_logs import service
from tiangong.notices.system_logs.repository import LogFilter
from tiangong.notices.system_logs.schemas import (
    AppLevel,
    AppLogList,
    Level,
    Source,
    SystemLogList,
    SystemLogStats,
)

router = APIRouter(prefix="/system-logs", tags=["system logs"])


@router.get("", response_model=SystemLogList)
async def list_system_logs(
    session: SessionDep,
    scope: ScopeDep,
    page: Annotated[int, Query(ge=1, le=5_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 50,
    source: Annotated[list[Source] | None, Query(max_length=3)] = None,
    level: Level | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SystemLogList:
    """Recent events as one newest-first list: audit entries (level from the response status),
    failed LLM calls and failed workflow runs. The caller's own, or everyone's with scope=all
    (administrators)."""
    return await service.list_entries(
        session,
        scope,
        LogFilter(level=level, since=since, until=until),
        sources=sorted(set(source or service.SOURCES)),
        page=page,
        page_size=page_size,
    )


@router.get("/stats", response_model=SystemLogStats)
async def system_log_stats(
    session: SessionDep, scope: ScopeDep, hours: Annotated[int, Query(ge=1, le=720)] = 24
) -> SystemLogStats:
    """Counts by source and level over the last `hours` hours."""
    return await service.stats(session, scope, hours=hours)


@router.get("/app", response_model=AppLogList)
async def app_logs(
    user: AdminUser,
    level: AppLevel = "INFO",
    logger: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> AppLogList:
    """This process's newest log records from the `tiangong` loggers (administrators only),
    at `level` or above, optionally under one logger name."""
    return service.app_records(
        min_level=logging.getLevelNamesMapping()[level], logger=logger, limit=limit
    )
