"""Goal runs on the job queue: execute-async puts the goal id on `goals.execute`.

The queue delivers at least once (Redis Streams redelivers a dead worker's message after its
lease), so a run is idempotent: it takes the goal with a conditional UPDATE (a lease with a
heartbeat; a second delivery while the first is alive does nothing), resets tasks a dead run
left in progress, and only ever picks tasks still pending, so completed ones never run again.

The consumer starts with the first run this process enqueues; `start()` starts it up front, for
an app lifespan or a `tiangong worker`. A consuming process re-queues runs a dead process left
(and fails hand-run tasks whose process died) when it starts and every RECOVER_EVERY_S after.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.config import get_settings
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.db.session import on_commit
from tiangong.goals import repository
from tiangong.goals.runner import run_goal
from tiangong.queue import Consumer, Queue, get_queue
from tiangong.queue.periodic import repeat

log = logging.getLogger(__name__)

QUEUE = "goals.execute"
CONCURRENCY = 2
# Less than the queue's own lease (60 s), so a redelivered job finds the dead run's lease stale.
STALE_S = 30.0
# Every consuming process looks for runs and hand-run tasks a dead process left this often, so
# they are picked up while the others live, not only when some process starts again.
RECOVER_EVERY_S = STALE_S


class GoalRunner:
    def __init__(self, queue: Queue, *, consume: bool) -> None:
        self.queue = queue
        self._consumer: Consumer | None = (
            queue.consumer(QUEUE, run_goal, concurrency=CONCURRENCY) if consume else None
        )
        self._started: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._enqueues: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        if self._consumer is not None:
            await self._consumer.start()
            await self.recover()
            self._recovery = repeat(RECOVER_EVERY_S, self.recover, "goal run recovery")

    async def recover(self) -> None:
        """Re-queue background runs that nobody holds (their process died), and fail tasks
        executed by hand whose process died (so they can be retried)."""
        now = utcnow()
        stale = now - timedelta(seconds=STALE_S)
        requeue: list[str] = []
        async with session_factory()() as session:
            await repository.fail_orphaned_tasks(session, stale)
            await session.commit()
            for goal_id, lease in await repository.stale_runs(session, stale):
                # A dead run's stale lease stays as it is: the consumer takes it over.
                if lease is not None or await repository.mark_queued(session, goal_id, stale, now):
                    requeue.append(goal_id)
            await session.commit()
        for goal_id in requeue:
            await self.queue.enqueue(QUEUE, goal_id)

    def submit(self, goal_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._enqueue(goal_id))
        self._enqueues.add(task)
        task.add_done_callback(self._enqueues.discard)

    async def _enqueue(self, goal_id: str) -> None:
        try:
            await self.start()
            await self.queue.enqueue(QUEUE, goal_id)
        except Exception:
            # The goal stays running with its run_id; recover() queues it again.
            log.exception("enqueueing goal %s failed", goal_id)

    async def stop(self, grace_s: float = 5.0) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            self._recovery = None
        if self._enqueues:
            await asyncio.wait(set(self._enqueues), timeout=5)
        if self._consumer is not None and self._started is not None:
            await self._consumer.stop(grace_s)
        self._started = None

    async def idle(self) -> None:
        """Wait until nothing is being enqueued or run here (tests, shutdown)."""
        while self._enqueues:
            await asyncio.wait(set(self._enqueues))
        if self._consumer is not None:
            await self._consumer.idle()


_runner: GoalRunner | None = None


def runner() -> GoalRunner:
    """This process's runner, on the current queue (rebuilt if the queue was replaced)."""
    global _runner
    queue = get_queue()
    if _runner is None or _runner.queue is not queue:
        # An in-process queue can only be consumed by its own process.
        consume = get_settings().run_workers or queue.backend == "memory"
        _runner = GoalRunner(queue, consume=consume)
    return _runner


async def start() -> None:
    await runner().start()


async def stop(grace_s: float = 5.0) -> None:
    global _runner
    if _runner is not None:
        await _runner.stop(grace_s)
    _runner = None


def submit_on_commit(session: AsyncSession, goal_id: str) -> None:
    """Queue the goal's run once this transaction commits; never if it rolls back."""
    on_commit(session, lambda: runner().submit(goal_id))


class GoalWorker:
    """The goals module's part of `tiangong worker`: consume goal runs and recover."""

    name = "goal runs"

    async def start(self) -> None:
        global _runner
        _runner = GoalRunner(get_queue(), consume=True)
        await _runner.start()

    async def stop(self, grace_s: float) -> None:
        await stop(grace_s)
