"""One bus per process, chosen by settings (like the cache)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from tiangong.bus.base import Bus, Subscription
from tiangong.bus.memory import MemoryBus
from tiangong.bus.redis import RedisBus
from tiangong.config import get_settings

_bus: Bus | None = None


def get_bus() -> Bus:
    global _bus
    if _bus is None:
        settings = get_settings()
        if settings.redis_url:
            _bus = RedisBus(settings.redis_url, settings.cache_prefix)
        else:
            _bus = MemoryBus()
    return _bus


async def publish(channel: str, payload: dict[str, Any]) -> None:
    await get_bus().publish(channel, payload)


def subscribe(channel: str) -> AbstractAsyncContextManager[Subscription]:
    return get_bus().subscribe(channel)


async def close_bus() -> None:
    global _bus
    if _bus is not None:
        await _bus.close()
    _bus = None
