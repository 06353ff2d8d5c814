"""The `tiangong worker` process: start services that consume queues, stop them on a signal.

Each domain module that has background jobs contributes a `Service` (knowledge ingestion today;
workflow runs can join the same list).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self, grace_s: float) -> None: ...


async def serve(
    services: Sequence[Service], *, grace_s: float, stop: asyncio.Event | None = None
) -> None:
    """Run until SIGTERM/SIGINT (or `stop`), then stop the services in reverse order; running
    jobs get `grace_s` to finish before they are cancelled and handed back."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
            log.info("worker: %s started", service.name)
        await stop.wait()
        log.info("worker: stopping")
    finally:
        for service in reversed(started):
            await service.stop(grace_s)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
