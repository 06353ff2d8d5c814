"""Feishu message jobs on the platform queue: answer with the user's agent, reply in Feishu.

The queue carries `feishu_events` ids; the row is the job. A job is claimed with a conditional
UPDATE (queued -> running), so a message delivered twice is answered once. The answer is stored
on the row before it is sent, so a failed send (after a few quick tries) or a process that dies
before sending is retried with that answer: the agent never answers one message twice. The
runner starts in a process the first time it submits a job; it re-queues events a dead process
left or a failed send put back (queued or running, untouched for LEASE_S) at start and every
RECOVER_EVERY_S, failing those that used up MAX_ATTEMPTS runs.
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
from tiangong.queue.periodic import repeat

log = logging.getLogger(__name__)

QUEUE = "feishu.events"
CONCURRENCY = 4
# An answer takes at most a few minutes; a job untouched longer belongs to a dead process.
LEASE_S = 600.0
MAX_ATTEMPTS = 3
SEEN_TTL_S = 24 * 3600
SEND_TRIES = 3
SEND_BACKOFF_S = 0.5
# Every consuming process looks for events a dead process (or a failed send) left this often.
RECOVER_EVERY_S = 60.0
# Finished events are kept this long (Feishu redelivers within hours), then purged on recovery.
KEEP_FINISHED_S = 7 * 24 * 3600


async def run(job_id: str) -> None:
    async with session_factory()() as session:
        row = await repository.claim_event(session, job_id)
        await session.commit()
    if row is None:
        return
    status, error = "done", None
    reply, stored = row.reply, row.reply is not None
    try:
        if reply is None:
            reply = await answer.reply_for(row.open_id, row.text)
            async with session_factory()() as session:
                await repository.store_reply(session, job_id, reply)
                await session.commit()
            stored = True
        await _send(row.chat_id, reply)
    except Exception as exc:
        log.exception("feishu event %s failed", row.event_id)
        error = f"{type(exc).__name__}: {exc}"
        # With the answer stored only the send is left to do: recovery tries it again later
        # (after the lease), up to MAX_ATTEMPTS runs in all.
        status = "queued" if stored and row.attempts < MAX_ATTEMPTS else "failed"
    async with session_factory()() as session:
        await repository.finish_event(session, job_id, status, error)
        await session.commit()


async def _send(chat_id: str, text: str) -> None:
    """A few quick tries first: most failures (a dropped connection, a 5xx) pass in seconds."""
    for attempt in range(SEND_TRIES):
        try:
            await openapi.send_text(chat_id, text)
            return
        except Exception:
            if attempt == SEND_TRIES - 1:
                raise
            await asyncio.sleep(SEND_BACKOFF_S * 4**attempt)


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
        self._recovery: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _start(self) -> None:
        if self._consumer is not None:
            await self._consumer.start()
            await self.recover()
            self._recovery = repeat(RECOVER_EVERY_S, self.recover, "feishu event recovery")

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
        if self._recovery is not None:
            self._recovery.cancel()
            self._recovery = None
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
