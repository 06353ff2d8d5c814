"""The audit trail's write path: requests append entries to an in-memory buffer (no I/O on the
request's path), and one background task inserts them in batches. `flush()` writes everything
buffered so far (shutdown, tests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import insert

from tiangong.db.engine import session_factory
from tiangong.notices.models import AuditLog

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 1.0
BATCH = 500
# Past this many unwritten entries (the database is down) new ones are dropped, counted.
MAX_BUFFERED = 50_000
# A batch the database refused this many times in a row is dropped, so one bad batch cannot
# hold back the whole trail.
MAX_ATTEMPTS = 3

_buffer: list[dict[str, Any]] = []
_dropped = 0
_failures = 0
_wake = asyncio.Event()
_lock = asyncio.Lock()
_task: asyncio.Task[None] | None = None


def record(entry: dict[str, Any]) -> None:
    global _dropped
    if len(_buffer) >= MAX_BUFFERED:
        _dropped += 1
        return
    _buffer.append(entry)
    if len(_buffer) >= BATCH:
        _wake.set()


def pending() -> int:
    return len(_buffer)


async def _write(batch: list[dict[str, Any]]) -> None:
    async with session_factory()() as session:
        await session.execute(insert(AuditLog), batch)
        await session.commit()


async def flush() -> None:
    """Write every entry buffered so far; waits for a flush already under way."""
    global _failures, _dropped
    async with _lock:
        while _buffer:
            batch = _buffer[:BATCH]
            del _buffer[:BATCH]
            try:
                await _write(batch)
                _failures = 0
            except Exception:
                _failures += 1
                if _failures >= MAX_ATTEMPTS:
                    logger.exception("dropping %d audit entries the database refused", len(batch))
                    _failures = 0
                    continue
                logger.warning("audit flush failed; will retry", exc_info=True)
                _buffer[:0] = batch
                return
        if _dropped:
            logger.error("audit buffer was full: %d entries were not recorded", _dropped)
            _dropped = 0


async def _loop() -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_EVERY_S):
                await _wake.wait()
        _wake.clear()
        try:
            await flush()
        except Exception:
            logger.warning("audit flush failed", exc_info=True)


def start() -> None:
    global _task, _wake, _lock
    if _task is None:
        # Bound to the running loop, not to one an earlier app (tests, CLI) ran on.
        _wake = asyncio.Event()
        _lock = asyncio.Lock()
        _task = asyncio.create_task(_loop())


async def stop() -> None:
    global _task
    if _task is not None:
        _task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _task
        _task = None
    await flush()
