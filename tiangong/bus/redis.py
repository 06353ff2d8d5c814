"""Redis pub/sub. Channels are namespaced by the configured prefix. Each subscription has its
own connection (a watcher holds one while it watches); publishing shares the client's pool."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

# How long subscribing may wait for Redis to confirm.
SUBSCRIBE_TIMEOUT_S = 5.0


class RedisSubscription:
    def __init__(self, pubsub: PubSub) -> None:
        self.pubsub = pubsub

    async def get(self, wait_s: float | None = None) -> dict[str, Any] | None:
        message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=wait_s)
        if message is None or message.get("type") != "message":
            return None
        payload: dict[str, Any] = json.loads(message["data"])
        return payload

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            message = await self.get()
            if message is not None:
                yield message


class RedisBus:
    backend = "redis"

    def __init__(self, url: str, prefix: str) -> None:
        # No socket_timeout: a subscription's connection idles until something is published.
        self.client: Redis = Redis.from_url(url, decode_responses=True, socket_connect_timeout=3)
        self.prefix = prefix

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        await self.client.publish(self.prefix + channel, json.dumps(payload, default=str))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[RedisSubscription]:
        pubsub = self.client.pubsub()
        try:
            await pubsub.subscribe(self.prefix + channel)
            # Wait for the confirmation: from then on, every publish reaches us.
            confirmed = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_S)
            if confirmed is None or confirmed.get("type") != "subscribe":
                raise ConnectionError(f"redis did not confirm the subscription to {channel}")
            yield RedisSubscription(pubsub)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        await self.client.aclose()
