"""Alert rules: CRUD, evaluation (on demand and from the periodic loop), acknowledgement."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.errors import Conflict, NotFound, ValidationFailed
from tiangong.notices import service as notices
from tiangong.notices.alerts import metrics, repository
from tiangong.notices.alerts.schemas import (
    AlertLogList,
    AlertLogRead,
    AlertRuleCreate,
    AlertRuleList,
    AlertRuleRead,
    AlertRuleUpdate,
    EvaluationResult,
    check_threshold,
)
from tiangong.notices.models import AlertLog, AlertRule

SYMBOLS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _not_found() -> NotFound:
    return NotFound("Alert rule not found", code="ALERT_RULE_NOT_FOUND")


async def _own(session: AsyncSession, user: User, rule_id: str) -> AlertRule:
    rule = await repository.get_rule(session, user.id, rule_id)
    if rule is None:
        raise _not_found()
    return rule


async def list_rules(
    session: AsyncSession,
    user: User,
    *,
    enabled: bool | None,
    metric: str | None,
    page: int,
    page_size: int,
) -> AlertRuleList:
    rows, total = await repository.rules_page(
        session,
        user.id,
        enabled=enabled,
        metric=metric,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [AlertRuleRead.model_validate(row) for row in rows]
    return AlertRuleList(items=items, total=total, page=page, page_size=page_size)


async def create(session: AsyncSession, user: User, data: AlertRuleCreate) -> AlertRuleRead:
    rule = AlertRule(owner_id=user.id, next_eval_at=utcnow(), **data.model_dump())
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    return AlertRuleRead.model_validate(rule)


async def get(session: AsyncSession, user: User, rule_id: str) -> AlertRuleRead:
    return AlertRuleRead.model_validate(await _own(session, user, rule_id))


async def update(
    session: AsyncSession, user: User, rule_id: str, data: AlertRuleUpdate
) -> AlertRuleRead:
    rule = await _own(session, user, rule_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    try:
        # The metric and threshold may change separately; the pair must still fit.
        check_threshold(
            changes.get("metric", rule.metric), changes.get("threshold", rule.threshold)
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc), code="ALERT_THRESHOLD_INVALID") from exc
    for key, value in changes.items():
        setattr(rule, key, value)
    if changes.get("enabled"):
        rule.next_eval_at = utcnow()  # a re-enabled rule is looked at on the next tick
    await session.flush()
    await session.refresh(rule)
    return AlertRuleRead.model_validate(rule)


async def delete(session: AsyncSession, user: User, rule_id: str) -> None:
    await session.delete(await _own(session, user, rule_id))
    await session.flush()


def _holds(comparator: str, value: float, threshold: float) -> bool:
    if comparator == "gt":
        return value > threshold
    if comparator == "gte":
        return value >= threshold
    if comparator == "lt":
        return value < threshold
    return value <= threshold


def _in_cooldown(rule: AlertRule, now: datetime) -> bool:
    if rule.last_fired_at is None or rule.cooldown_minutes == 0:
        return False
    return now - rule.last_fired_at < timedelta(minutes=rule.cooldown_minutes)


async def _fire(session: AsyncSession, rule: AlertRule, value: float, now: datetime) -> AlertLog:
    message = (
        f"{rule.metric} = {value:.4g} {SYMBOLS[rule.comparator]} {rule.threshold:g} "
        f"over the last {rule.window_minutes} min"
    )
    log = AlertLog(
        rule_id=rule.id,
        owner_id=rule.owner_id,
        rule_name=rule.name,
        metric=rule.metric,
        comparator=rule.comparator,
        threshold=rule.threshold,
        value=value,
        severity=rule.severity,
        state="firing",
        message=message[:500],
        created_at=now,
        updated_at=now,
    )
    session.add(log)
    rule.last_fired_at = now
    await session.flush()
    await notices.notify(
        session,
        rule.owner_id,
        "alert",
        f"[{rule.severity}] {rule.name}",
        message,
        link=f"/alert-rules/logs?rule_id={rule.id}",
        resource_type="alert_log",
        resource_id=log.id,
    )
    return log


async def evaluate_rule(
    session: AsyncSession, rule: AlertRule, now: datetime | None = None
) -> EvaluationResult:
    """Measure the rule's metric now. When the condition holds and the cooldown has passed, an
    alert log and a notification for the owner are added; when it no longer holds, the rule's
    open alerts are resolved. Flushes only."""
    now = now or utcnow()
    value = await metrics.measure(
        session, rule.metric, rule.owner_id, now - timedelta(minutes=rule.window_minutes)
    )
    met = value is not None and _holds(rule.comparator, value, rule.threshold)
    log: AlertLog | None = None
    resolved = 0
    if value is None:
        outcome = "no_data"
    elif not met:
        outcome = "not_met"
        resolved = await repository.resolve_open(session, rule.id, now)
    elif _in_cooldown(rule, now):
        outcome = "cooldown"
    else:
        outcome = "fired"
        log = await _fire(session, rule, value, now)
    rule.last_evaluated_at = now
    rule.last_value = value
    await session.flush()
    return EvaluationResult(
        rule_id=rule.id,
        metric=rule.metric,
        value=value,
        comparator=rule.comparator,
        threshold=rule.threshold,
        window_minutes=rule.window_minutes,
        condition_met=met,
        outcome=outcome,
        alert=AlertLogRead.model_validate(log) if log is not None else None,
        resolved=resolved,
    )


async def evaluate(session: AsyncSession, user: User, rule_id: str) -> EvaluationResult:
    """Evaluate now, whether or not the rule is enabled (a way to try a rule out)."""
    return await evaluate_rule(session, await _own(session, user, rule_id))


async def list_logs(
    session: AsyncSession,
    user: User,
    *,
    rule_id: str | None,
    state: str | None,
    page: int,
    page_size: int,
) -> AlertLogList:
    rows, total = await repository.logs_page(
        session,
        user.id,
        rule_id=rule_id,
        state=state,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [AlertLogRead.model_validate(row) for row in rows]
    return AlertLogList(items=items, total=total, page=page, page_size=page_size)


async def acknowledge(session: AsyncSession, user: User, log_id: str) -> AlertLogRead:
    log = await repository.get_log(session, user.id, log_id)
    if log is None:
        raise NotFound("Alert not found", code="ALERT_LOG_NOT_FOUND")
    if log.state != "firing":
        raise Conflict(
            f"Only a firing alert can be acknowledged; this one is {log.state}",
            code="ALERT_NOT_FIRING",
        )
    log.state = "acknowledged"
    log.acknowledged_at = utcnow()
    await session.flush()
    await session.refresh(log)
    return AlertLogRead.model_validate(log)
