"""The pub/sub bus on both backends, for real: in-process, and Redis at 127.0.0.1:6379
(including delivery between two independent bus instances, as between two processes)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from tests import backends
from tiangong.bus.base import Bus
from tiangong.bus.memory import MemoryBus
from tiangong.bus.redis import RedisBus


def _redis(prefix: str) -> RedisBus:
    return RedisBus(backends.REDIS_URL, prefix)


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    instance: Bus = MemoryBus() if request.param == "memory" else _redis(f"t{uuid.uuid4().hex}:")
    yield instance
    await instance.close()


async def test_subscriber_receives_what_is_published_after_subscribing_in_order(bus: Bus) -> None:
    await bus.publish("ch", {"n": -1})  # before anyone listens: lost, not queued
    async with bus.subscribe("ch") as sub:
        for n in range(5):
            await bus.publish("ch", {"n": n, "at": datetime(2024, 1, 1)})
        got = [await sub.get(wait_s=5) for _ in range(5)]
        assert [m["n"] for m in got if m] == [0, 1, 2, 3, 4]
        assert got[0] and got[0]["at"] == "2024-01-01 00:00:00"  # not JSON: made a string
        assert await sub.get(wait_s=0.1) is None


async def test_channels_are_separate_and_every_subscriber_gets_a_copy(bus: Bus) -> None:
    async with bus.subscribe("a") as one, bus.subscribe("a") as two, bus.subscribe("b") as other:
        await bus.publish("a", {"x": [1]})
        first, second = await one.get(wait_s=5), await two.get(wait_s=5)
        assert first == second == {"x": [1]}
        assert first is not second
        assert await other.get(wait_s=0.1) is None


async def test_leaving_the_context_unsubscribes(bus: Bus) -> None:
    async with bus.subscribe("ch"):
        pass
    await bus.publish("ch", {"late": True})
    if isinstance(bus, MemoryBus):
        assert bus._channels == {}
    else:
        assert isinstance(bus, RedisBus)
        assert await bus.client.pubsub_numsub(bus.prefix + "ch") == [(bus.prefix + "ch", 0)]


async def test_async_iteration(bus: Bus) -> None:
    async with bus.subscribe("ch") as sub:

        async def produce() -> None:
            for n in range(3):
                await bus.publish("ch", {"n": n})

        await produce()
        seen = []
        async for message in sub:
            seen.append(message["n"])
            if len(seen) == 3:
                break
    assert seen == [0, 1, 2]


async def test_redis_delivers_between_independent_instances() -> None:
    """Two buses with their own connections, as in an API process and a worker process."""
    prefix = f"t{uuid.uuid4().hex}:"
    api, worker = _redis(prefix), _redis(prefix)
    try:
        async with api.subscribe("workflow-run:r1") as sub:
            await worker.publish("workflow-run:r1", {"type": "node_started", "node_id": "a"})
            message = await sub.get(wait_s=5)
        assert message == {"type": "node_started", "node_id": "a"}
        # Another prefix (another deployment on the same Redis) hears nothing.
        stranger = _redis(f"t{uuid.uuid4().hex}:")
        async with api.subscribe("c") as sub:
            await stranger.publish("c", {"x": 1})
            assert await sub.get(wait_s=0.2) is None
        await stranger.close()
    finally:
        await api.close()
        await worker.close()


async def test_memory_subscriber_waits_for_a_later_publish() -> None:
    bus = MemoryBus()
    async with bus.subscribe("ch") as sub:
        waiter = asyncio.create_task(sub.get(wait_s=5))
        await asyncio.sleep(0.05)
        await bus.publish("ch", {"ok": True})
        assert await waiter == {"ok": True}
