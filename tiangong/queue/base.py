"""The queue interface: named queues of job ids, consumed by handlers with a concurrency limit.

A message carries only an id; the job's state lives in the database, whose conditional claim
decides who runs it. Delivery is at least once, so a handler must be a no-op for a job that is
already done or taken.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

Handler = Callable[[str], Awaitable[None]]


class Consumer(Protocol):
    async def start(self) -> None: ...

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking jobs; let running ones finish for `grace_s`, then cancel them."""

    async def idle(self) -> None:
        """Wait until this consumer holds no job (tests, shutdown)."""

    def active(self) -> list[str]:
        """Ids of the jobs this consumer holds right now (for heartbeats)."""


class Queue(Protocol):
    backend: str

    async def enqueue(self, queue_name: str, job_id: str) -> None: ...

    def consumer(self, queue_name: str, handler: Handler, *, concurrency: int) -> Consumer: ...

    async def close(self) -> None: ...
