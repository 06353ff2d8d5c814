"""Periodic evaluation of enabled rules, in every API process, like the schedule loop: a rule's
slot is claimed with a compare-and-set on `next_eval_at`, so each slot is evaluated once however
many processes tick. The claim, the evaluation and its alert commit together; a process that dies
mid-way rolls all of it back and the rule stays due for the next tick."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError

from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.notices.alerts import repository
from tiangong.notices.alerts.service import evaluate_rule
from tiangong.notices.models import AlertRule

logger = logging.getLogger(__name__)

TICK_S = 15.0
EVALUATE_EVERY = timedelta(seconds=60)
BATCH = 100


async def _evaluate_slot(rule_id: str, due: datetime, now: datetime) -> bool:
    async with session_factory()() as session:
        try:
            if not await repository.claim(session, rule_id, due, now + EVALUATE_EVERY):
                await session.rollback()
                return False
            rule = await session.get(AlertRule, rule_id)
            if rule is None:
                await session.rollback()
                return False
            await evaluate_rule(session, rule, now)
            await session.commit()
            return True
        except DBAPIError:
            # A lost race that the database settled with a deadlock error: next tick retries.
            logger.warning("alert rule %s: evaluation failed", rule_id, exc_info=True)
            await session.rollback()
            return False


async def tick(now: datetime | None = None) -> int:
    """Evaluate every enabled rule due at `now`; returns how many this process evaluated."""
    now = now or utcnow()
    async with session_factory()() as session:
        due = await repository.due_rule_ids(session, now, BATCH)
    evaluated = 0
    for rule_id, due_at in due:
        evaluated += await _evaluate_slot(rule_id, due_at, now)
    return evaluated


_task: asyncio.Task[None] | None = None
_stopping = False


async def _loop() -> None:
    # The flag ends the loop even if library code swallows the cancel.
    while not _stopping:
        try:
            await tick()
        except Exception:
            logger.warning("alert evaluation tick failed", exc_info=True)
        await asyncio.sleep(TICK_S)


def start() -> None:
    global _task, _stopping
    if _task is None:
        _stopping = False
        _task = asyncio.create_task(_loop())


async def stop() -> None:
    global _task, _stopping
    if _task is not None:
        _stopping = True
        _task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _task
        _task = None
