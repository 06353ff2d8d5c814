"""One cache per process, chosen by settings."""

from __future__ import annotations

from tiangong.cache.base import Cache
from tiangong.cache.memory import MemoryCache
from tiangong.cache.redis import RedisCache
from tiangong.config import get_settings

_cache: Cache | None = None


def get_cache() -> Cache:
    global _cache
    if _cache is None:
        settings = get_settings()
        if settings.redis_url:
            _cache = RedisCache(settings.redis_url, settings.cache_prefix)
        else:
            _cache = MemoryCache()
    return _cache


async def close_cache() -> None:
    global _cache
    if _cache is not None:
        await _cache.close()
    _cache = None
