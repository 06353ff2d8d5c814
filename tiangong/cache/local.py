"""Per-process caches of hot rows, kept coherent across processes by a shared generation.

Every write to the cached rows sets a new random generation in the shared cache (Redis when
configured, so all processes see it) before its flush and again after its commit. A lookup reads
the generation first and keeps an entry only under the generation it read, so an entry loaded
before a write lands is dropped at the next lookup. A missing generation (first use, or the
cache was flushed) is replaced by a new one, so entries from before never match again. Entries
also expire after `ttl_s`, which bounds staleness if a writer elsewhere forgets to call
`changed` (a CLI process on the in-process cache, say).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.cache.factory import get_cache

V = TypeVar("V")

MAX_ENTRIES = 10_000
_bumps: set[asyncio.Task[str]] = set()


class LocalCache(Generic[V]):
    def __init__(self, name: str, ttl_s: float) -> None:
        self._key = f"{name}:generation"
        self._ttl_s = ttl_s
        self._entries: dict[Hashable, tuple[str, float, V]] = {}

    async def lookup(self, key: Hashable, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The cached value, or `load()`'s (None is returned but not kept)."""
        generation = await get_cache().get(self._key) or await self._new_generation()
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] == generation and hit[1] > now:
            return hit[2]
        value = await load()
        if value is not None:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (generation, now + self._ttl_s, value)
        return value

    async def _new_generation(self) -> str:
        generation = uuid.uuid4().hex
        await get_cache().set(self._key, generation)
        return generation

    async def changed(self, session: AsyncSession) -> None:
        """Call from every write to the cached rows, inside its transaction."""
        await self._new_generation()
        loop = asyncio.get_running_loop()

        def committed(_: object) -> None:
            task = loop.create_task(self._new_generation())
            _bumps.add(task)
            task.add_done_callback(_bumps.discard)

        event.listen(session.sync_session, "after_commit", committed, once=True)

    def clear(self) -> None:
        self._entries.clear()
