"""The pub/sub interface every backend implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol


class Subscription(Protocol):
    """Messages of one channel from the moment `subscribe` returned, in publish order."""

    async def get(self, wait_s: float | None = None) -> dict[str, Any] | None:
        """The next message, or None after `wait_s` seconds without one. A parameter rather
        than `asyncio.timeout` around the call: cancelling a Redis read midway breaks its
        connection."""
        ...

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...


class Bus(Protocol):
    backend: str

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        """Send a JSON object to the channel's current subscribers (values that are not JSON
        become strings)."""
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscription]:
        """Subscribed when entered (so nothing published afterwards is missed); unsubscribed
        on exit."""
        ...

    async def close(self) -> None: ...
