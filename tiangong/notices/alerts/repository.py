"""Alert rules and their logs; every statement is scoped to the owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.notices.models import AlertLog, AlertRule

OPEN_STATES = ("firing", "acknowledged")


async def rules_page(
    session: AsyncSession,
    owner_id: str,
    *,
    enabled: bool | None,
    metric: str | None,
    offset: int,
    limit: int,
) -> tuple[list[AlertRule], int]:
    where: list[ColumnElement[bool]] = [AlertRule.owner_id == owner_id]
    if enabled is not None:
        where.append(AlertRule.enabled.is_(enabled))
    if metric is not None:
        where.append(AlertRule.metric == metric)
    total = await session.scalar(select(func.count(AlertRule.id)).where(*where))
    stmt = (
        select(AlertRule)
        .where(*where)
        .order_by(AlertRule.created_at.desc(), AlertRule.id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars()), int(total or 0)


async def get_rule(session: AsyncSession, owner_id: str, rule_id: str) -> AlertRule | None:
    stmt = select(AlertRule).where(AlertRule.id == rule_id, AlertRule.owner_id == owner_id)
    return (await session.execute(stmt)).scalars().first()


async def logs_page(
    session: AsyncSession,
    owner_id: str,
    *,
    rule_id: str | None,
    state: str | None,
    offset: int,
    limit: int,
) -> tuple[list[AlertLog], int]:
    where: list[ColumnElement[bool]] = [AlertLog.owner_id == owner_id]
    if rule_id is not None:
        where.append(AlertLog.rule_id == rule_id)
    if state is not None:
        where.append(AlertLog.state == state)
    total = await session.scalar(select(func.count(AlertLog.id)).where(*where))
    stmt = (
        select(AlertLog)
        .where(*where)
        .order_by(AlertLog.created_at.desc(), AlertLog.id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars()), int(total or 0)


async def get_log(session: AsyncSession, owner_id: str, log_id: str) -> AlertLog | None:
    stmt = select(AlertLog).where(AlertLog.id == log_id, AlertLog.owner_id == owner_id)
    return (await session.execute(stmt)).scalars().first()


async def resolve_open(session: AsyncSession, rule_id: str, now: datetime) -> int:
    result = await session.execute(
        update(AlertLog)
        .where(AlertLog.rule_id == rule_id, AlertLog.state.in_(OPEN_STATES))
        .values(state="resolved", resolved_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def due_rule_ids(
    session: AsyncSession, now: datetime, limit: int
) -> list[tuple[str, datetime]]:
    stmt = (
        select(AlertRule.id, AlertRule.next_eval_at)
        .where(AlertRule.enabled.is_(True), AlertRule.next_eval_at <= now)
        .order_by(AlertRule.next_eval_at)
        .limit(limit)
    )
    return [(rule_id, due) for rule_id, due in (await session.execute(stmt)).tuples()]


async def claim(session: AsyncSession, rule_id: str, due: datetime, following: datetime) -> bool:
    """Move the rule's next evaluation on if it is still `due`: one process wins the slot."""
    result = await session.execute(
        update(AlertRule)
        .where(
            AlertRule.id == rule_id,
            AlertRule.next_eval_at == due,
            AlertRule.enabled.is_(True),
        )
        .values(next_eval_at=following)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1
