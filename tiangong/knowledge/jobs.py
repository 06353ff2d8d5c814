"""The in-process job runner for ingestion, and recovery of documents a dead process left.

Jobs are asyncio tasks with a small concurrency limit. Durability comes from the database, not
the runner: a document is claimed with a conditional UPDATE (so of several processes only one
runs it), the running process refreshes `heartbeat_at`, and any process finding a document
queued or running with a stale heartbeat re-queues it, or fails it once it has been
interrupted MAX_ATTEMPTS times. A broker for scaled-out workers is not built yet: every API
process runs this runner, and the claim keeps them from doubling work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.knowledge import ingest, repository

log = logging.getLogger(__name__)

CONCURRENCY = 2
# A running document whose heartbeat is older than this belongs to a dead process.
LEASE_S = 60.0
HEARTBEAT_S = 10.0
MAX_ATTEMPTS = 3

Work = Callable[[str], Awaitable[None]]


class JobRunner:
    def __init__(self, work: Work, *, concurrency: int = CONCURRENCY) -> None:
        self._work = work
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Documents re-queued while their previous job was still winding down.
        self._again: set[str] = set()
        self._maintenance: asyncio.Task[None] | None = None

    def submit(self, doc_id: str) -> None:
        if doc_id in self._tasks:
            self._again.add(doc_id)
            return
        task = asyncio.get_running_loop().create_task(self._run(doc_id))
        self._tasks[doc_id] = task
        task.add_done_callback(lambda _: self._done(doc_id))

    def _done(self, doc_id: str) -> None:
        self._tasks.pop(doc_id, None)
        if doc_id in self._again and self._maintenance is not None:
            self._again.discard(doc_id)
            self.submit(doc_id)

    async def _run(self, doc_id: str) -> None:
        async with self._slots:
            try:
                await self._work(doc_id)
            except Exception:
                log.exception("ingestion job for document %s crashed", doc_id)

    async def start(self) -> None:
        await self.recover()
        self._maintenance = asyncio.get_running_loop().create_task(self._maintain())

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let jobs finish for a while, then cancel them (each puts its document back)."""
        if self._maintenance is not None:
            self._maintenance.cancel()
            self._maintenance = None
        tasks = set(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)

    async def idle(self) -> None:
        """Wait until no job is queued or running here (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks.values()))

    async def _maintain(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            beats += 1
            try:
                if self._tasks:
                    async with session_factory()() as session:
                        await repository.heartbeat(session, list(self._tasks))
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
        async with session_factory()() as session:
            for doc in await repository.stale(session, cutoff):
                if doc.id in self._tasks:
                    continue
                if doc.status == "queued":
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


def runner() -> JobRunner:
    global _runner
    if _runner is None:
        _runner = JobRunner(ingest.run)
    return _runner


def submit_on_commit(session: AsyncSession, doc_ids: list[str]) -> None:
    """Run the jobs once this transaction commits; never if it rolls back."""
    if not doc_ids:
        return
    loop = asyncio.get_running_loop()

    def committed(_: object) -> None:
        for doc_id in doc_ids:
            loop.call_soon_threadsafe(runner().submit, doc_id)

    event.listen(session.sync_session, "after_commit", committed, once=True)
