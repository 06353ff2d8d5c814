"""One queue per process, chosen by settings."""

from __future__ import annotations

from tiangong.config import Settings, get_settings
from tiangong.queue.base import Queue
from tiangong.queue.memory import MemoryQueue
from tiangong.queue.redis_streams import RedisStreamQueue

_queue: Queue | None = None


def make_queue(settings: Settings) -> Queue:
    if not settings.queue_url:
        return MemoryQueue()
    if settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStreamQueue(settings.queue_url, settings.cache_prefix)
    raise ValueError("queue_url must be empty (in-process) or a redis:// URL")


def get_queue() -> Queue:
    global _queue
    if _queue is None:
        _queue = make_queue(get_settings())
    return _queue


async def close_queue() -> None:
    global _queue
    if _queue is not None:
        await _queue.close()
    _queue = None
