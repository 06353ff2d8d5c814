"""The unified system log: one newest-first list over three sources, paged by merging the
newest `page * page_size` rows of each."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.db.base import utcnow
from tiangong.errors import ValidationFailed
from tiangong.monitoring.scope import Scope
from tiangong.notices.system_logs import repository, ring
from tiangong.notices.system_logs.repository import LogFilter
from tiangong.notices.system_logs.schemas import (
    AppLogList,
    AppLogRecord,
    SourceLevelCount,
    SystemLogList,
    SystemLogStats,
)

# Merging reads page * page_size rows of each source, so the depth of paging is bounded.
MAX_DEPTH = 5_000
SOURCES = {"audit": repository.audit, "llm": repository.llm, "workflow": repository.workflow}


async def list_entries(
    session: AsyncSession,
    scope: Scope,
    where: LogFilter,
    *,
    sources: list[str],
    page: int,
    page_size: int,
) -> SystemLogList:
    depth = page * page_size
    if depth > MAX_DEPTH:
        raise ValidationFailed(
            f"page * page_size may be at most {MAX_DEPTH}; narrow the time range instead",
            code="PAGE_TOO_DEEP",
        )
    merged = []
    total = 0
    for name in sources:
        entries, count = await SOURCES[name](session, scope, where, depth)
        merged.extend(entries)
        total += count
    merged.sort(key=lambda entry: (entry.time, entry.id), reverse=True)
    return SystemLogList(
        scope=scope.name,
        items=merged[depth - page_size : depth],
        total=total,
        page=page,
        page_size=page_size,
    )


async def stats(session: AsyncSession, scope: Scope, *, hours: int) -> SystemLogStats:
    since = utcnow() - timedelta(hours=hours)
    found = await repository.counts(session, scope, since)
    breakdown = [
        SourceLevelCount(source=source, level=level, count=n)
        for source, levels in found.items()
        for level, n in levels.items()
    ]
    by_level = dict.fromkeys(("info", "warning", "error"), 0)
    for item in breakdown:
        by_level[item.level] += item.count
    return SystemLogStats(
        scope=scope.name,
        hours=hours,
        since=since,
        total=sum(item.count for item in breakdown),
        by_source={source: sum(levels.values()) for source, levels in found.items()},
        by_level=by_level,
        breakdown=breakdown,
    )


def app_records(*, min_level: int, logger: str | None, limit: int) -> AppLogList:
    records = ring.handler.newest(min_level=min_level, logger=logger, limit=limit)
    return AppLogList(
        items=[
            AppLogRecord(
                time=r.time,
                level=r.level,
                logger=r.logger,
                message=r.message,
                request_id=r.request_id,
                exception=r.exception,
            )
            for r in records
        ],
        capacity=ring.CAPACITY,
    )
