"""The cache interface every backend implements."""

from __future__ import annotations

from typing import Protocol


class Cache(Protocol):
    backend: str

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl: int | None = None) -> None: ...

    async def delete(self, *keys: str) -> int: ...

    async def incr(self, key: str, ttl: int | None = None) -> int:
        """Increment and return; the TTL is set when the key is created, so windows are fixed."""
        ...

    async def ttl(self, key: str) -> int | None:
        """Seconds left, or None if the key is missing or has no expiry."""
        ...

    async def hset(self, key: str, fields: dict[str, str], ttl: int | None = None) -> None:
        """Set hash fields; a TTL given here is (re)applied to the whole hash."""
        ...

    async def hgetall(self, key: str) -> dict[str, str]: ...

    async def hdel(self, key: str, *fields: str) -> None:
        """Remove hash fields; the hash keeps its TTL."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
