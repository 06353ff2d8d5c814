"""The in-process queue: jobs are asyncio tasks of this process, nothing survives it."""

from __future__ import annotations

import asyncio
import logging

from tiangong.queue.base import Handler

log = logging.getLogger(__name__)


class LocalConsumer:
    def __init__(self, handler: Handler, concurrency: int) -> None:
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Jobs enqueued again while their previous run was still winding down.
        self._again: set[str] = set()
        self._stopped = False

    def submit(self, job_id: str) -> None:
        if job_id in self._tasks:
            self._again.add(job_id)
            return
        task = asyncio.get_running_loop().create_task(self._run(job_id))
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._done(job_id))

    def _done(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        if job_id in self._again and not self._stopped:
            self._again.discard(job_id)
            self.submit(job_id)

    async def _run(self, job_id: str) -> None:
        async with self._slots:
            try:
                await self._handler(job_id)
            except Exception:
                log.exception("job %s crashed", job_id)

    async def start(self) -> None:
        self._stopped = False

    async def stop(self, grace_s: float = 5.0) -> None:
        self._stopped = True
        tasks = set(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks.values()))

    def active(self) -> list[str]:
        return list(self._tasks)


class MemoryQueue:
    backend = "memory"

    def __init__(self) -> None:
        self._consumers: dict[str, LocalConsumer] = {}
        # Jobs enqueued before their queue had a consumer.
        self._waiting: dict[str, list[str]] = {}

    async def enqueue(self, queue_name: str, job_id: str) -> None:
        consumer = self._consumers.get(queue_name)
        if consumer is None:
            self._waiting.setdefault(queue_name, []).append(job_id)
        else:
            consumer.submit(job_id)

    def consumer(self, queue_name: str, handler: Handler, *, concurrency: int) -> LocalConsumer:
        consumer = LocalConsumer(handler, concurrency)
        self._consumers[queue_name] = consumer
        for job_id in self._waiting.pop(queue_name, []):
            consumer.submit(job_id)
        return consumer

    async def close(self) -> None:
        self._consumers.clear()
