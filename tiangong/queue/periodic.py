"""A pass that repeats in the background (recovery of jobs a dead process left)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def repeat(every_s: float, fn: Callable[[], Awaitable[None]], what: str) -> asyncio.Task[None]:
    """Run `fn` every `every_s` seconds until the task is cancelled. A failed pass is logged
    and the next one comes anyway."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await fn()
            except Exception:
                log.exception("%s failed", what)

    return asyncio.get_running_loop().create_task(loop())
