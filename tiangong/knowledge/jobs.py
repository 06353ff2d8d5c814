"""Ingestion jobs on the job queue, and recovery of documents a dead process left.

`submit_on_commit` puts document ids on the queue (`tiangong.queue`): in-process by default,
Redis Streams when `queue_url` is set, where `tiangong worker` processes (and API processes
unless `run_workers` is off) consume them. Durability comes from the database, not the queue: a
document is claimed with a conditional UPDATE (so a message delivered twice runs once), the
running process refreshes `heartbeat_at`, and any consuming process finding a document queued or
running with a stale heartbeat re-queues it, or fails it once it has been interrupted
MAX_ATTEMPTS times.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.config import Settings, get_settings
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.db.session import on_commit
from tiangong.knowledge import ingest, repository
from tiangong.queue import Consumer, Queue, close_queue, get_queue
from tiangong.queue.memory import MemoryQueue

log = logging.getLogger(__name__)

CONCURRENCY = 2
# A running document whose heartbeat is older than this belongs to a dead process.
LEASE_S = 60.0
HEARTBEAT_S = 10.0
MAX_ATTEMPTS = 3

Work = Callable[[str], Awaitable[None]]


QUEUE = "knowledge.ingest"


class JobRunner:
    """Enqueues ingestion jobs and, when it consumes, runs them, beats their heartbeats and
    recovers stale documents."""

    def __init__(
        self,
        work: Work,
        *,
        concurrency: int = CONCURRENCY,
        queue: Queue | None = None,
        consume: bool = True,
    ) -> None:
        self._queue: Queue = queue if queue is not None else MemoryQueue()
        self._consumer: Consumer | None = (
            self._queue.consumer(QUEUE, work, concurrency=concurrency) if consume else None
        )
        self._enqueues: set[asyncio.Task[None]] = set()
        self._maintenance: asyncio.Task[None] | None = None

    @property
    def consuming(self) -> bool:
        return self._consumer is not None

    def submit(self, doc_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._enqueue(doc_id))
        self._enqueues.add(task)
        task.add_done_callback(self._enqueues.discard)

    async def _enqueue(self, doc_id: str) -> None:
        try:
            await self._queue.enqueue(QUEUE, doc_id)
        except Exception:
            # The document stays queued; recovery enqueues it again after the lease.
            log.exception("enqueueing document %s failed", doc_id)

    def _active(self) -> list[str]:
        return self._consumer.active() if self._consumer is not None else []

    async def start(self) -> None:
        if self._consumer is None:
            return
        await self._consumer.start()
        await self.recover()
        self._maintenance = asyncio.get_running_loop().create_task(self._maintain())

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let jobs finish for a while, then cancel them (each puts its document back)."""
        if self._maintenance is not None:
            self._maintenance.cancel()
            self._maintenance = None
        if self._enqueues:
            await asyncio.wait(set(self._enqueues), timeout=5)
        if self._consumer is not None:
            await self._consumer.stop(grace_s)

    async def idle(self) -> None:
        """Wait until no job is being enqueued, queued or running here (tests, shutdown)."""
        while self._enqueues:
            await asyncio.wait(set(self._enqueues))
        if self._consumer is not None:
            await self._consumer.idle()

    async def _maintain(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            beats += 1
            try:
                active = self._active()
                if active:
                    async with session_factory()() as session:
                        await repository.heartbeat(session, active)
                        await session.commit()
                if beats * HEARTBEAT_S >= LEASE_S / 2:
                    beats = 0
                    await self.recover()
            except Exception:
                log.exception("knowledge job maintenance failed")

    async def recover(self, lease_s: float = LEASE_S) -> None:
        """Re-queue (or fail) documents nobody has touched for `lease_s`, and run them."""
        cutoff = utcnow() - timedelta(seconds=lease_s)
        resume: list[str] = []
        active = set(self._active())
        async with session_factory()() as session:
            for doc in await repository.stale(session, cutoff):
                if doc.id in active:
                    continue
                if doc.status == "queued":
                    # A fresh heartbeat: a document waiting behind a long queue is enqueued
                    # again at most once per lease, not on every pass.
                    if await repository.reset_stale(session, doc, cutoff, heartbeat_at=utcnow()):
                        resume.append(doc.id)
                elif doc.attempts >= MAX_ATTEMPTS:
                    reason = f"INGEST_INTERRUPTED: interrupted {doc.attempts} times"
                    if await repository.reset_stale(
                        session, doc, cutoff, status="failed", error=reason, finished_at=utcnow()
                    ):
                        log.warning("document %s failed: %s", doc.id, reason)
                elif await repository.reset_stale(
                    session, doc, cutoff, status="queued", heartbeat_at=utcnow()
                ):
                    log.warning("document %s was interrupted; resuming", doc.id)
                    resume.append(doc.id)
            await session.commit()
        for doc_id in resume:
            self.submit(doc_id)


_runner: JobRunner | None = None


def build_runner(settings: Settings, queue: Queue) -> JobRunner:
    # An in-process queue can only be consumed by its own process, whatever run_workers says.
    consume = settings.run_workers or queue.backend == "memory"
    return JobRunner(ingest.run, queue=queue, consume=consume)


def runner() -> JobRunner:
    global _runner
    if _runner is None:
        _runner = build_runner(get_settings(), get_queue())
    return _runner


async def shutdown() -> None:
    """Stop this process's runner and close its queue; a later start builds new ones."""
    global _runner
    if _runner is not None:
        await _runner.stop()
    _runner = None
    await close_queue()


def worker_runner() -> JobRunner:
    """The runner of a `tiangong worker` process: it consumes, whatever run_workers says."""
    global _runner
    _runner = JobRunner(ingest.run, queue=get_queue(), consume=True)
    return _runner


def submit_on_commit(session: AsyncSession, doc_ids: list[str]) -> None:
    """Run the jobs once this transaction commits; never if it rolls back."""
    if not doc_ids:
        return

    def submit_all() -> None:
        for doc_id in doc_ids:
            runner().submit(doc_id)

    on_commit(session, submit_all)
