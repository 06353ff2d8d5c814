"""Reads of the audit trail; every statement filters on the scope's user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.monitoring.scope import Scope
from tiangong.notices.models import AuditLog

# Each breakdown of the stats lists at most this many keys (the most frequent).
MAX_KEYS = 50


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    method: str | None = None
    user_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def conditions(scope: Scope, where: AuditFilter) -> list[ColumnElement[bool]]:
    found = [scope.owns(AuditLog.user_id)]
    for column, value in (
        (AuditLog.action, where.action),
        (AuditLog.resource_type, where.resource_type),
        (AuditLog.resource_id, where.resource_id),
        (AuditLog.method, where.method),
        (AuditLog.user_id, where.user_id),
    ):
        if value is not None:
            found.append(column == value)
    if where.since is not None:
        found.append(AuditLog.created_at >= where.since)
    if where.until is not None:
        found.append(AuditLog.created_at < where.until)
    return found


async def page(
    session: AsyncSession, scope: Scope, where: AuditFilter, *, offset: int, limit: int
) -> tuple[list[AuditLog], int]:
    matching = conditions(scope, where)
    total = await session.scalar(select(func.count(AuditLog.id)).where(*matching))
    stmt = (
        select(AuditLog)
        .where(*matching)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars()), int(total or 0)


async def counts_by(
    session: AsyncSession, scope: Scope, since: datetime, key: Any
) -> list[tuple[Any, int]]:
    count = func.count(AuditLog.id)
    stmt = (
        select(key, count)
        .where(*conditions(scope, AuditFilter(since=since)))
        .group_by(key)
        .order_by(count.desc())
        .limit(MAX_KEYS)
    )
    return [(value, int(n)) for value, n in (await session.execute(stmt)).tuples()]
