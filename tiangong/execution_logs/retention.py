"""The retention job: deletes finished runs (and their node runs) older than each owner's
policy, in small batches so no statement holds many locks or runs for long.

Safe with several processes: each batch re-checks age and status in its DELETE, and deleting
rows another process already deleted affects nothing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.config import get_settings
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.execution_logs.models import LogRetentionPolicy
from tiangong.execution_logs.repository import FINISHED
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

logger = logging.getLogger(__name__)

# Rounds in a row that found rows but deleted none (another process holds them) before this
# pass gives up; the next pass tries again.
MAX_IDLE_ROUNDS = 100


def _expired(cutoff: datetime) -> ColumnElement[bool]:
    # Only finished runs: queued, running and paused runs are never deleted, however old.
    return and_(
        WorkflowRun.status.in_(FINISHED),
        func.coalesce(WorkflowRun.finished_at, WorkflowRun.created_at) < cutoff,
    )


async def _purge_where(scope: ColumnElement[bool], cutoff: datetime, batch: int) -> int:
    deleted = 0
    condition = and_(scope, _expired(cutoff))
    idle_rounds = 0
    while idle_rounds < MAX_IDLE_ROUNDS:
        async with session_factory()() as session:
            # A plain read: no locks while looking for candidates.
            stmt = select(WorkflowRun.id).where(condition).limit(batch)
            ids = list((await session.execute(stmt)).scalars().all())
            if not ids:
                return deleted
            count = await _delete_batch(session, ids, condition)
            await session.commit()
        deleted += count
        idle_rounds = 0 if count else idle_rounds + 1
        # Let requests run between batches; wait a little when another process holds the rows.
        await asyncio.sleep(0 if count else 0.05)
    return deleted


async def _delete_batch(
    session: AsyncSession, ids: list[str], condition: ColumnElement[bool]
) -> int:
    # Lock the rows by primary key (record locks only, no gap locks that would stall inserts),
    # skipping rows another process is purging, so concurrent purges never deadlock.
    # SQLite has no row locks; there the first DELETE takes the database's write lock.
    lock = (
        select(WorkflowRun.id)
        .where(WorkflowRun.id.in_(ids), condition)
        .order_by(WorkflowRun.id)
        .with_for_update(skip_locked=True)
    )
    locked = list((await session.execute(lock)).scalars().all())
    if not locked:
        return 0
    # The condition again in both deletes: a run resumed since the select must stay.
    doomed = select(WorkflowRun.id).where(WorkflowRun.id.in_(locked), condition)
    await session.execute(
        delete(WorkflowNodeRun)
        .where(WorkflowNodeRun.run_id.in_(doomed))
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(WorkflowRun)
        .where(WorkflowRun.id.in_(locked), condition)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge(now: datetime | None = None, batch: int | None = None) -> int:
    """Delete expired runs of every owner; returns how many runs were deleted."""
    settings = get_settings()
    now = now or utcnow()
    batch = batch or settings.execution_log_retention_batch
    async with session_factory()() as session:
        policies = (
            await session.execute(
                select(LogRetentionPolicy.owner_id, LogRetentionPolicy.retention_days)
            )
        ).all()
    deleted = 0
    for owner_id, days in policies:
        deleted += await _purge_where(
            WorkflowRun.owner_id == owner_id, now - timedelta(days=days), batch
        )
    # Everyone without a policy row gets the default.
    no_policy = WorkflowRun.owner_id.not_in(select(LogRetentionPolicy.owner_id))
    default_cutoff = now - timedelta(days=settings.execution_log_retention_days)
    deleted += await _purge_where(no_policy, default_cutoff, batch)
    if deleted:
        logger.info("execution log retention deleted %d runs", deleted)
    return deleted


_task: asyncio.Task[None] | None = None


async def _purge_forever() -> None:
    while True:
        try:
            await purge()
        except Exception:
            # A failed pass (a deadlock with another process, a lost connection) is retried
            # at the next interval; the rows are still there.
            logger.warning("execution log retention failed", exc_info=True)
        await asyncio.sleep(get_settings().execution_log_retention_interval_s)


def start() -> None:
    """App startup: purge once now, then every `execution_log_retention_interval_s`."""
    global _task
    if _task is None:
        _task = asyncio.create_task(_purge_forever())


async def stop() -> None:
    global _task
    if _task is not None:
        _task.cancel()
        await asyncio.gather(_task, return_exceptions=True)
        _task = None
