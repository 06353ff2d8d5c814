"""Hash fields in the cache the test run uses (Redis or in-process): set, read, delete, TTL."""

from __future__ import annotations

from tiangong.cache import get_cache


async def test_hdel_removes_only_the_named_fields() -> None:
    cache = get_cache()
    await cache.hset("t:hash", {"a": "1", "b": "2", "c": "3"}, ttl=60)
    await cache.hdel("t:hash", "a", "missing")
    assert await cache.hgetall("t:hash") == {"b": "2", "c": "3"}
    await cache.hdel("t:hash")  # no fields: nothing happens
    await cache.hdel("t:absent", "a")  # no hash: nothing happens either
    assert await cache.hgetall("t:hash") == {"b": "2", "c": "3"}
    await cache.hdel("t:hash", "b", "c")
    assert await cache.hgetall("t:hash") == {}
