from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.monitoring.figures import day_key, window
from tiangong.monitoring.scope import Scope
from tiangong.notices.audit import repository
from tiangong.notices.audit.repository import AuditFilter
from tiangong.notices.audit.schemas import AuditLogList, AuditLogRead, AuditStats, Count
from tiangong.notices.models import AuditLog


async def list_entries(
    session: AsyncSession, scope: Scope, where: AuditFilter, *, page: int, page_size: int
) -> AuditLogList:
    rows, total = await repository.page(
        session, scope, where, offset=(page - 1) * page_size, limit=page_size
    )
    return AuditLogList(
        scope=scope.name,
        items=[AuditLogRead.model_validate(row) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


def _counts(rows: list[tuple[object, int]]) -> list[Count]:
    return [Count(key=str(key), count=n) for key, n in rows]


async def stats(session: AsyncSession, scope: Scope, *, days: int) -> AuditStats:
    span = window(days)
    by_status = await repository.counts_by(session, scope, span.since, AuditLog.status_code)
    per_day = dict.fromkeys(span.dates, 0)
    for day, n in await repository.counts_by(
        session, scope, span.since, func.date(AuditLog.created_at)
    ):
        per_day[day_key(day)] = per_day.get(day_key(day), 0) + n
    return AuditStats(
        scope=scope.name,
        days=days,
        since=span.since,
        total=sum(n for _, n in by_status),
        failed=sum(n for status, n in by_status if int(status) >= 400),
        by_action=_counts(await repository.counts_by(session, scope, span.since, AuditLog.action)),
        by_resource_type=_counts(
            await repository.counts_by(session, scope, span.since, AuditLog.resource_type)
        ),
        by_method=_counts(await repository.counts_by(session, scope, span.since, AuditLog.method)),
        by_day=[Count(key=day, count=n) for day, n in per_day.items()],
    )
