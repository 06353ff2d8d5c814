"""In-process cache for the embedded shape. Same semantics as the Redis backend."""

from __future__ import annotations

import math
import time


class MemoryCache:
    backend = "memory"

    def __init__(self) -> None:
        self._data: dict[str, tuple[str, float | None]] = {}
        self._hashes: dict[str, tuple[dict[str, str], float | None]] = {}

    def _live(self, key: str) -> tuple[str, float | None] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= time.monotonic():
            del self._data[key]
            return None
        return item

    async def get(self, key: str) -> str | None:
        item = self._live(key)
        return item[0] if item else None

    async def set(self, key: str, value: str, ttl: int | None = None) -> None:
        self._data[key] = (value, time.monotonic() + ttl if ttl else None)

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in keys:
            hashed = self._hashes.pop(key, None)
            if (self._live(key) and self._data.pop(key, None)) or hashed:
                removed += 1
        return removed

    async def incr(self, key: str, ttl: int | None = None) -> int:
        item = self._live(key)
        if item is None:
            self._data[key] = ("1", time.monotonic() + ttl if ttl else None)
            return 1
        value = int(item[0]) + 1
        self._data[key] = (str(value), item[1])
        return value

    async def ttl(self, key: str) -> int | None:
        item = self._live(key)
        if item is None or item[1] is None:
            return None
        return max(1, math.ceil(item[1] - time.monotonic()))

    async def hset(self, key: str, fields: dict[str, str], ttl: int | None = None) -> None:
        current = await self.hgetall(key)
        expires = self._hashes[key][1] if key in self._hashes else None
        if ttl:
            expires = time.monotonic() + ttl
        self._hashes[key] = ({**current, **fields}, expires)

    async def hgetall(self, key: str) -> dict[str, str]:
        item = self._hashes.get(key)
        if item is None:
            return {}
        if item[1] is not None and item[1] <= time.monotonic():
            del self._hashes[key]
            return {}
        return dict(item[0])

    async def hdel(self, key: str, *fields: str) -> None:
        item = self._hashes.get(key)
        if item is not None:
            for name in fields:
                item[0].pop(name, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()
        self._hashes.clear()
