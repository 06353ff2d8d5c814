"""Redis backend. Keys are namespaced by the configured prefix."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis


class RedisCache:
    backend = "redis"

    def __init__(self, url: str, prefix: str) -> None:
        self.client: Redis = Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=3, socket_timeout=5
        )
        self.prefix = prefix

    def _k(self, key: str) -> str:
        return self.prefix + key

    async def get(self, key: str) -> str | None:
        value: Any = await self.client.get(self._k(key))
        return value if value is None else str(value)

    async def set(self, key: str, value: str, ttl: int | None = None) -> None:
        await self.client.set(self._k(key), value, ex=ttl)

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(await self.client.delete(*(self._k(k) for k in keys)))

    async def incr(self, key: str, ttl: int | None = None) -> int:
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(self._k(key))
        if ttl:
            pipe.expire(self._k(key), ttl, nx=True)
        result = await pipe.execute()
        return int(result[0])

    async def ttl(self, key: str) -> int | None:
        left = int(await self.client.ttl(self._k(key)))
        return left if left > 0 else None

    async def hset(self, key: str, fields: dict[str, str], ttl: int | None = None) -> None:
        if not fields:
            return
        pipe = self.client.pipeline(transaction=True)
        mapping: dict[Any, Any] = dict(fields)
        pipe.hset(self._k(key), mapping=mapping)
        if ttl:
            pipe.expire(self._k(key), ttl)
        await pipe.execute()

    async def hgetall(self, key: str) -> dict[str, str]:
        result: Any = await self.client.hgetall(self._k(key))
        return {str(k): str(v) for k, v in result.items()}

    async def hdel(self, key: str, *fields: str) -> None:
        if fields:
            await self.client.hdel(self._k(key), *fields)

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def close(self) -> None:
        await self.client.aclose()
