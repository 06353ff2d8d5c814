"""Cache: Redis when configured, otherwise an in-process store with the same interface."""

from tiangong.cache.base import Cache
from tiangong.cache.factory import close_cache, get_cache

__all__ = ["Cache", "close_cache", "get_cache"]
