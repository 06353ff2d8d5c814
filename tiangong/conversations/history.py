"""History reads and writes: the database is the record, the cache answers first.

Every message is written to the cache the moment it exists ("optimistic write"), so a client
that re-reads right after a stream or a retry sees it before the database write lands. A read
trusts the cache only when it holds the whole conversation (the `complete` marker, set by a
refill from the database); otherwise it reads the database and refills the cache.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.cache import get_cache
from tiangong.conversations import repository
from tiangong.conversations.models import Message
from tiangong.conversations.schemas import MessageView

log = logging.getLogger(__name__)

TTL_SECONDS = 24 * 3600


def _messages_key(conversation_id: str) -> str:
    return f"conv:{conversation_id}:msgs"


def _complete_key(conversation_id: str) -> str:
    return f"conv:{conversation_id}:complete"


def _retry_key(conversation_id: str) -> str:
    return f"conv:{conversation_id}:retry"


def view(message: Message) -> MessageView:
    return MessageView.model_validate(message)


async def remember(*views: MessageView) -> None:
    """Write messages to the cache. A cache outage must not fail a chat, so errors are logged."""
    by_conversation: dict[str, dict[str, str]] = {}
    for item in views:
        payload = item.model_dump_json(exclude={"retry_total"})
        by_conversation.setdefault(item.conversation_id, {})[item.uid] = payload
    try:
        for conversation_id, fields in by_conversation.items():
            await get_cache().hset(_messages_key(conversation_id), fields, ttl=TTL_SECONDS)
    except Exception as exc:  # noqa: BLE001
        log.warning("history cache write failed: %s", type(exc).__name__)


async def remember_retry(*views: MessageView) -> None:
    """Record new retry fields of earlier messages without rewriting the messages.

    A retry may start while the answer it replaces is still on its way to the database; writing
    that answer's database row to the cache would overwrite the newer cached text. Retry fields
    therefore live in a hash of their own that overrides the message's on read.
    """
    by_conversation: dict[str, dict[str, str]] = {}
    for item in views:
        retry = {"retry_group_id": item.retry_group_id, "retry_index": item.retry_index}
        by_conversation.setdefault(item.conversation_id, {})[item.uid] = json.dumps(retry)
    try:
        for conversation_id, fields in by_conversation.items():
            await get_cache().hset(_retry_key(conversation_id), fields, ttl=TTL_SECONDS)
    except Exception as exc:  # noqa: BLE001
        log.warning("history cache write failed: %s", type(exc).__name__)


async def _with_retry_overrides(
    conversation_id: str, items: list[MessageView]
) -> list[MessageView]:
    overrides = await get_cache().hgetall(_retry_key(conversation_id))
    if not overrides:
        return items
    return [
        item.model_copy(update=json.loads(overrides[item.uid])) if item.uid in overrides else item
        for item in items
    ]


async def forget(conversation_id: str) -> None:
    try:
        await get_cache().delete(
            _messages_key(conversation_id),
            _complete_key(conversation_id),
            _retry_key(conversation_id),
        )
    except Exception as exc:  # noqa: BLE001
        log.warning("history cache delete failed: %s", type(exc).__name__)


def with_retry_totals(items: Iterable[MessageView]) -> list[MessageView]:
    """Order by creation and fill retry_total: how many answers the group holds."""
    ordered = sorted(items, key=lambda m: (m.created_at, m.id or 0))
    totals: dict[str, int] = {}
    for item in ordered:
        if item.retry_group_id and item.role == "assistant":
            totals[item.retry_group_id] = totals.get(item.retry_group_id, 0) + 1
    return [
        item.model_copy(update={"retry_total": totals.get(item.retry_group_id or "")})
        if item.retry_group_id
        else item
        for item in ordered
    ]


async def _cached(conversation_id: str) -> list[MessageView] | None:
    cache = get_cache()
    try:
        if await cache.get(_complete_key(conversation_id)) is None:
            return None
        fields = await cache.hgetall(_messages_key(conversation_id))
        items = [MessageView.model_validate_json(raw) for raw in fields.values()]
        return await _with_retry_overrides(conversation_id, items)
    except Exception as exc:  # noqa: BLE001
        log.warning("history cache read failed: %s", type(exc).__name__)
        return None


async def _refill(conversation_id: str, views: Sequence[MessageView]) -> list[MessageView]:
    """Merge database rows into the cache and mark it complete.

    Cache entries win: each message reaches the cache before its database write, so an entry
    there is never older than the row (a finished answer may still be in flight to the database).
    """
    cache = get_cache()
    try:
        present = await cache.hgetall(_messages_key(conversation_id))
        merged = {item.uid: item for item in views}
        merged.update({uid: MessageView.model_validate_json(raw) for uid, raw in present.items()})
        missing = [item for item in views if item.uid not in present]
        await remember(*missing)
        await cache.set(_complete_key(conversation_id), "1", ttl=TTL_SECONDS)
        return await _with_retry_overrides(conversation_id, list(merged.values()))
    except Exception as exc:  # noqa: BLE001
        log.warning("history cache refill failed: %s", type(exc).__name__)
        return list(views)


async def read(session: AsyncSession, conversation_id: str) -> tuple[list[MessageView], str]:
    """The whole history and where it came from ("cache" or "database").

    The caller has already checked that the conversation belongs to the user.
    """
    cached = await _cached(conversation_id)
    if cached is not None:
        return with_retry_totals(cached), "cache"
    views = [view(row) for row in await repository.messages(session, conversation_id)]
    return with_retry_totals(await _refill(conversation_id, views)), "database"
