"""Feishu message jobs on the platform queue: answer with the user's agent, reply in Feishu.

The queue carries `feishu_events` ids; the row is the job. A job is claimed with a conditional
UPDATE (queued -> running), so a message delivered twice is answered once. The runner starts
in a process the first time it submits a job, and then re-queues events a dead process left
behind (queued or running, untouched for LEASE_S), failing those interrupted MAX_ATTEMPTS times.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.cache import get_cache
from tiangong.config import get_settings
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.db.session import on_commit
from tiangong.feishu import answer, openapi, repository
from tiangong.queue import Consumer, Queue, get_queue

log = logging.getLogger(__name__)

QUEUE = "feishu.events"
CONCURRENCY = 4
# An answer takes at most a few minutes; a job untouched longer belongs to a dead process.
LEASE_S = 600.0
MAX_ATTEMPTS = 3
SEEN_TTL_S = 24 * 3600
# Finished events are kept this long (Feishu redelivers within hours), then purged on recovery.
KEEP_FINISHED_S = 7 * 24 * 3600


async def run(job_id: str) -> None:
    async with session_factory()() as session:
        row = await repository.claim_event(session, job_id)
        await session.commit()
    if row is None:
        return
    status, error = "done", None
    try:
        reply = await answer.reply_for(row.open_id, row.text)
        await openapi.send_text(row.chat_id, reply)
    except Exception as exc:
        log.exception("feishu event %s failed", row.event_id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    async with session_factory()() as session:
        await repository.finish_event(session, job_id, status, error)
        await session.commit()


class FeishuJobs:
    def __init__(self, queue: Queue, consume: bool | None = None) -> None:
        self.queue = queue
        if consume is None:
            # An in-process queue can only be consumed by its own process.
            consume = get_settings().run_workers or queue.backend == "memory"
        self._consumer: Consumer | None = (
            queue.consumer(QUEUE, run, concurrency=CONCURRENCY) if consume else None
        )
        self._started: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _start(self) -> None:
        if self._consumer is not None:
            await self._consumer.start()
            await self.recover()

    async def ensure_started(self) -> None:
        """Consume (if this process does) and recover, once."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(self._started)

    def submit(self, job_id: str, seen_key: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(self._submit(job_id, seen_key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit(self, job_id: str, seen_key: str | None) -> None:
        try:
            if seen_key is not None:
                await get_cache().set(seen_key, "1", ttl=SEEN_TTL_S)
            await self.ensure_started()
            await self.queue.enqueue(QUEUE, job_id)
        except Exception:
            # The row stays queued; recovery picks it up after the lease.
            log.exception("submitting feishu event %s failed", job_id)

    async def recover(self, lease_s: float = LEASE_S) -> None:
        cutoff = utcnow() - timedelta(seconds=lease_s)
        resume: list[str] = []
        async with session_factory()() as session:
            await repository.purge_finished(session, utcnow() - timedelta(seconds=KEEP_FINISHED_S))
            for row in await repository.stale_events(session, cutoff):
                failed = row.attempts >= MAX_ATTEMPTS
                if await repository.requeue(session, row, cutoff, "failed" if failed else "queued"):
                    if not failed:
                        resume.append(row.id)
            await session.commit()
        for job_id in resume:
            await self.queue.enqueue(QUEUE, job_id)

    async def idle(self) -> None:
        """Wait until nothing is being submitted or run here (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._consumer is not None:
            await self._consumer.idle()

    async def stop(self, grace_s: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self._consumer is not None:
            await self._consumer.stop(grace_s)


_jobs: FeishuJobs | None = None


def jobs() -> FeishuJobs:
    """This process's runner, rebuilt when the process's queue was closed and replaced."""
    global _jobs
    queue = get_queue()
    if _jobs is None or _jobs.queue is not queue:
        _jobs = FeishuJobs(queue)
    return _jobs


async def start() -> None:
    """With the app: run the consumer here (if this process consumes) and re-queue the events
    a dead process left, without waiting for the next event to arrive."""
    await jobs().ensure_started()


async def stop() -> None:
    global _jobs
    if _jobs is not None:
        await _jobs.stop()
    _jobs = None


class FeishuWorker:
    """The Feishu part of `tiangong worker`: consume message jobs and recover stale ones."""

    name = "feishu events"

    async def start(self) -> None:
        global _jobs
        _jobs = FeishuJobs(get_queue(), consume=True)
        await _jobs.ensure_started()

    async def stop(self, grace_s: float) -> None:
        if _jobs is not None:
            await _jobs.stop(grace_s)


def submit_on_commit(session: AsyncSession, job_id: str, seen_key: str) -> None:
    """Queue the job once this transaction commits; never if it rolls back."""
    on_commit(session, lambda: jobs().submit(job_id, seen_key))
