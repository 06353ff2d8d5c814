"""In-process pub/sub for the embedded shape. Same semantics as the Redis backend: payloads
go through JSON, so subscribers never share objects with the publisher."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

logger = logging.getLogger(__name__)

# A subscriber this far behind is too slow to be live; it loses messages rather than
# letting the process's memory grow.
MAX_BACKLOG = 10_000


class MemorySubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(MAX_BACKLOG)

    async def get(self, wait_s: float | None = None) -> dict[str, Any] | None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can return a message and drop a
        # cancel that arrived with it, and the cancelled watcher would go on.
        try:
            async with asyncio.timeout(wait_s):
                raw = await self.queue.get()
        except TimeoutError:
            return None
        message: dict[str, Any] = json.loads(raw)
        return message

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            message = await self.get()
            if message is not None:
                yield message


class MemoryBus:
    backend = "memory"

    def __init__(self) -> None:
        self._channels: dict[str, set[MemorySubscription]] = {}

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        subscribers = self._channels.get(channel)
        if not subscribers:
            return  # nobody listens: no encoding cost
        raw = json.dumps(payload, default=str)
        for sub in subscribers:
            try:
                sub.queue.put_nowait(raw)
            except asyncio.QueueFull:
                logger.warning("bus: a subscriber of %s fell %d behind", channel, MAX_BACKLOG)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[MemorySubscription]:
        sub = MemorySubscription()
        self._channels.setdefault(channel, set()).add(sub)
        try:
            yield sub
        finally:
            subscribers = self._channels.get(channel)
            if subscribers is not None:
                subscribers.discard(sub)
                if not subscribers:
                    del self._channels[channel]

    async def close(self) -> None:
        self._channels.clear()
