"""A per-process cache of resolved models, for the chat hot path (one query less per turn).

Every model-config write sets a new random generation in the shared cache (Redis when
configured, so all processes see it) before its flush and again after its commit. A lookup reads
the generation first and keeps an entry only under the generation it read, so an entry loaded
before a write lands is dropped at the next lookup. A missing generation (first use, or the
cache was flushed) is replaced by a new one, so entries from before never match again. Entries
also expire after TTL_S.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.cache import get_cache

if TYPE_CHECKING:
    from tiangong.model_configs.service import ResolvedModel

TTL_S = 30.0
MAX_ENTRIES = 10_000
_GENERATION = "model_configs:generation"

_entries: dict[tuple[str, str | None], tuple[str, float, ResolvedModel]] = {}
_bumps: set[asyncio.Task[str]] = set()


async def lookup(
    user_id: str, ref: str | None, load: Callable[[], Awaitable[ResolvedModel]]
) -> ResolvedModel:
    generation = await get_cache().get(_GENERATION) or await _new_generation()
    key = (user_id, ref)
    hit = _entries.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] == generation and hit[1] > now:
        return hit[2]
    resolved = await load()
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[key] = (generation, now + TTL_S, resolved)
    return resolved


async def _new_generation() -> str:
    generation = uuid.uuid4().hex
    await get_cache().set(_GENERATION, generation)
    return generation


async def changed(session: AsyncSession) -> None:
    """Call from every write to model configs, inside its transaction."""
    await _new_generation()
    loop = asyncio.get_running_loop()

    def committed(_: object) -> None:
        task = loop.create_task(_new_generation())
        _bumps.add(task)
        task.add_done_callback(_bumps.discard)

    event.listen(session.sync_session, "after_commit", committed, once=True)


def clear() -> None:
    _entries.clear()
