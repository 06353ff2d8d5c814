"""Redis Streams queue: one stream per queue name, one consumer group shared by all workers.

A worker reads with XREADGROUP and acknowledges (and deletes) a message only after its handler
returns, so a job whose worker died stays pending. Every worker takes over, with XAUTOCLAIM,
messages that have been pending longer than the lease; a live worker keeps the messages it is
running fresh by re-claiming them to itself (XCLAIM ... JUSTID resets their idle time).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tiangong.db.base import new_id
from tiangong.queue.base import Handler

log = logging.getLogger(__name__)

GROUP = "workers"
LEASE_S = 60.0
BLOCK_MS = 1000
FIELD = "job"


class StreamConsumer:
    def __init__(
        self,
        client: Redis,
        stream: str,
        handler: Handler,
        *,
        concurrency: int,
        lease_s: float = LEASE_S,
        block_ms: int = BLOCK_MS,
    ) -> None:
        self._client = client
        self._stream = stream
        self._handler = handler
        self._concurrency = concurrency
        self._lease_ms = max(1, int(lease_s * 1000))
        self._block_ms = block_ms
        self.name = f"{socket.gethostname()}-{os.getpid()}-{new_id()[:8]}"
        # message id -> (job id, task running it)
        self._running: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        try:
            # From the start of the stream: jobs enqueued before any worker existed count too.
            await self._client.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._read()), loop.create_task(self._keep_leases())]

    async def _read(self) -> None:
        while True:
            try:
                free = self._concurrency - len(self._running)
                if free <= 0:
                    tasks = {task for _, task in self._running.values()}
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                entries = await self._reclaim(free) or await self._fresh(free)
                for message_id, fields in entries:
                    self._spawn(message_id, fields)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading queue %s failed; retrying", self._stream)
                await asyncio.sleep(1)

    async def _reclaim(self, count: int) -> list[tuple[str, dict[str, str]]]:
        result: Any = await self._client.xautoclaim(
            self._stream, GROUP, self.name, self._lease_ms, start_id="0-0", count=count
        )
        entries = [(mid, fields) for mid, fields in result[1] if fields]
        for message_id, _ in entries:
            log.warning("taking over job message %s of %s", message_id, self._stream)
        return entries

    async def _fresh(self, count: int) -> list[tuple[str, dict[str, str]]]:
        result: Any = await self._client.xreadgroup(
            GROUP, self.name, {self._stream: ">"}, count=count, block=self._block_ms
        )
        return [(mid, fields) for _, messages in result or [] for mid, fields in messages]

    def _spawn(self, message_id: str, fields: dict[str, str]) -> None:
        job_id = fields.get(FIELD, "")
        task = asyncio.get_running_loop().create_task(self._run(message_id, job_id))
        self._running[message_id] = (job_id, task)
        task.add_done_callback(lambda _: self._running.pop(message_id, None))

    async def _run(self, message_id: str, job_id: str) -> None:
        # Cancelled (shutdown or a dying worker): no ack, so the message is redelivered.
        try:
            if job_id:
                await self._handler(job_id)
        except Exception:
            log.exception("job %s from %s crashed", job_id, self._stream)
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.xack(self._stream, GROUP, message_id)
            pipe.xdel(self._stream, message_id)
            await asyncio.shield(pipe.execute())
        except Exception:
            # Redelivered after the lease; the job's own state makes the rerun a no-op.
            log.exception("acknowledging %s on %s failed", message_id, self._stream)

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            ids: list[Any] = list(self._running)
            if not ids:
                continue
            try:
                await self._client.xclaim(self._stream, GROUP, self.name, 0, ids, justid=True)
            except Exception:
                log.exception("refreshing job leases on %s failed", self._stream)

    async def stop(self, grace_s: float = 5.0) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        tasks = {task for _, task in self._running.values()}
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)

    async def idle(self) -> None:
        while self._running:
            await asyncio.wait({task for _, task in self._running.values()})

    def active(self) -> list[str]:
        return [job_id for job_id, _ in self._running.values()]


class RedisStreamQueue:
    backend = "redis"

    def __init__(self, url: str, prefix: str, *, lease_s: float = LEASE_S) -> None:
        self.client: Redis = Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=3, socket_timeout=None
        )
        self.prefix = prefix
        self.lease_s = lease_s

    def stream(self, queue_name: str) -> str:
        return f"{self.prefix}queue:{queue_name}"

    async def enqueue(self, queue_name: str, job_id: str) -> None:
        await self.client.xadd(self.stream(queue_name), {FIELD: job_id})

    def consumer(self, queue_name: str, handler: Handler, *, concurrency: int) -> StreamConsumer:
        return StreamConsumer(
            self.client,
            self.stream(queue_name),
            handler,
            concurrency=concurrency,
            lease_s=self.lease_s,
        )

    async def close(self) -> None:
        await self.client.aclose()
