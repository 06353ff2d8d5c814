"""One goal run: execute ready tasks in dependency order until the goal is done, failed or
paused. The queue handler of `goals.execute` (see jobs.py for delivery and recovery)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from tiangong.db.base import new_id, utcnow
from tiangong.db.engine import session_factory
from tiangong.goals import execution, graph, repository
from tiangong.goals.models import GoalTask

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
# A lease whose heartbeat is older than this belongs to a dead worker (jobs.STALE_S agrees).
STALE_S = 30.0
IN_FLIGHT = {"claimed", "in_progress", "awaiting_approval"}


async def run_goal(goal_id: str) -> None:
    lease = new_id()
    while await _take(goal_id, lease):
        try:
            async with _heartbeat(goal_id, lease):
                await _drive(goal_id, lease)
        finally:
            await _drop(goal_id, lease)
        # Another delivery (a resume, an approval) may have come while this run held the goal
        # and done nothing; if work is ready now, carry on rather than leave it waiting.
        if not await _work_ready(goal_id):
            return


async def _take(goal_id: str, lease: str) -> bool:
    now = utcnow()
    async with session_factory()() as session:
        taken = await repository.take_run(
            session, goal_id, lease, now, now - timedelta(seconds=STALE_S)
        )
        if taken:
            reset = await repository.reset_orphans(session, goal_id, lease)
            if reset:
                log.warning("goal %s: %d task(s) of a dead run go back to pending", goal_id, reset)
        await session.commit()
    return taken


async def _drop(goal_id: str, lease: str) -> None:
    async with session_factory()() as session:
        await repository.drop_run(session, goal_id, lease)
        await session.commit()


async def _work_ready(goal_id: str) -> bool:
    async with session_factory()() as session:
        goal = await repository.get_goal_by_id(session, goal_id)
        if goal is None or goal.status != "running":
            return False
        return bool(graph.ready(await repository.tasks_of(session, goal_id)))


@contextlib.asynccontextmanager
async def _heartbeat(goal_id: str, lease: str) -> AsyncIterator[None]:
    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                async with session_factory()() as session:
                    await repository.beat(session, goal_id, lease, utcnow())
                    await session.commit()
            except Exception:
                log.exception("goal %s: heartbeat failed", goal_id)

    task = asyncio.get_running_loop().create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _drive(goal_id: str, lease: str) -> None:
    while True:
        async with session_factory()() as session:
            goal = await repository.get_goal_by_id(session, goal_id)
            # Paused, finished, deleted or taken over: pick no new task.
            if goal is None or goal.status != "running" or goal.run_lease != lease:
                return
            tasks = await repository.tasks_of(session, goal_id)
            candidates = graph.ready(tasks)
            if not candidates:
                outcome = _conclude(tasks)
                if outcome is not None:
                    await repository.set_goal_status(session, goal_id, ["running"], **outcome)
                await session.commit()
                return
            task = candidates[0]
            now = utcnow()
            won = await repository.transition(
                session,
                task.id,
                ["pending"],
                status="in_progress",
                attempts=GoalTask.attempts + 1,
                run_lease=lease,
                claimed_by=f"goal-run:{goal.run_id}",
                claimed_at=now,
                started_at=now,
                finished_at=None,
                result=None,
                error=None,
            )
            job = execution.job_for(goal.owner_id, goal, task, tasks)
            await session.commit()
        if won:
            await execution.run(job)


def _conclude(tasks: list[GoalTask]) -> dict[str, str | None] | None:
    """Nothing is ready: the goal's new status and error, or None while it waits for someone
    (an approval or a claimer finishing a task queues the run again)."""
    if any(t.status in IN_FLIGHT for t in tasks):
        return None
    if not tasks:
        return {"status": "failed", "run_error": "GOAL_NOT_PLANNED: the goal has no tasks"}
    if all(t.status in ("completed", "cancelled") for t in tasks):
        return {"status": "completed", "run_error": None}
    failed = sum(t.status == "failed" for t in tasks)
    blocked = sum(t.status == "pending" for t in tasks)
    return {"status": "failed", "run_error": f"GOAL_STUCK: {failed} failed, {blocked} blocked"}
