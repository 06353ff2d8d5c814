"""POST /feishu/event: verify, decrypt, dedupe and store an event, then answer at once.

Feishu retries a delivery it has no answer for within 3 s, so nothing slow happens here: a
message event becomes a `feishu_events` row (UNIQUE event_id) and a job on the queue, run
after the request commits. A cache entry per event_id answers retries without a write.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.cache import get_cache
from tiangong.chat.schemas import MAX_MESSAGE
from tiangong.config import get_settings
from tiangong.errors import AppError, BadRequest, Forbidden, Unauthorized
from tiangong.feishu import crypto, jobs, repository
from tiangong.feishu.models import FeishuEvent
from tiangong.feishu.schemas import EventAck

MAX_BODY_BYTES = 1_000_000
SEEN_TTL_S = 24 * 3600
MESSAGE_EVENT = "im.message.receive_v1"


def _bad(message: str) -> BadRequest:
    return BadRequest(message, code="FEISHU_BAD_PAYLOAD")


def _object(text: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise _bad("The body is not JSON") from None
    if not isinstance(data, dict):
        raise _bad("The body must be a JSON object")
    return data


def _str(data: Any, *path: str, limit: int = 128) -> str | None:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, str) and 0 < len(data) <= limit else None


def _payload(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    settings = get_settings()
    if not settings.feishu_verification_token:
        raise Forbidden("Feishu is not configured", code="FEISHU_NOT_CONFIGURED")
    if len(body) > MAX_BODY_BYTES:
        raise AppError("The event is too large", code="PAYLOAD_TOO_LARGE", status=413)
    data = _object(body)
    key = settings.feishu_encrypt_key
    if key:
        encrypted = data.get("encrypt")
        if not isinstance(encrypted, str):
            raise _bad("An encrypt key is configured, so events must be encrypted")
        crypto.check_signature(
            headers.get("x-lark-request-timestamp"),
            headers.get("x-lark-request-nonce"),
            headers.get("x-lark-signature"),
            key,
            body,
        )
        data = _object(crypto.decrypt(encrypted, key))
    # Schema 2.0 carries the token in the header; 1.0 and url_verification at the top.
    token = _str(data, "header", "token") or _str(data, "token") or ""
    if not hmac.compare_digest(token.encode(), settings.feishu_verification_token.encode()):
        raise Unauthorized("Bad Feishu verification token", code="FEISHU_BAD_TOKEN")
    return data


def _message_text(message: dict[str, Any]) -> str:
    """The text of a text message, without the @mention placeholders; "" for anything else."""
    if message.get("message_type") != "text" or not isinstance(message.get("content"), str):
        return ""
    try:
        content = json.loads(message["content"])
    except ValueError:
        return ""
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(text, str):
        return ""
    for mention in message.get("mentions") or []:
        placeholder = mention.get("key") if isinstance(mention, dict) else None
        if isinstance(placeholder, str) and placeholder:
            text = text.replace(placeholder, "")
    return text.strip()[:MAX_MESSAGE]


async def receive(
    session: AsyncSession, body: bytes, headers: Mapping[str, str]
) -> EventAck | dict[str, str]:
    data = _payload(body, headers)
    if data.get("type") == "url_verification":
        challenge = _str(data, "challenge", limit=1000)
        if challenge is None:
            raise _bad("url_verification without a challenge")
        return {"challenge": challenge}
    event_id = _str(data, "header", "event_id")
    if event_id is None or _str(data, "header", "event_type") != MESSAGE_EVENT:
        # Other events (and schema 1.0) are acknowledged and ignored.
        return EventAck()
    event = data.get("event")
    open_id = _str(event, "sender", "sender_id", "open_id", limit=64)
    message = event.get("message") if isinstance(event, dict) else None
    chat_id = _str(message, "chat_id")
    if open_id is None or chat_id is None or not isinstance(message, dict):
        raise _bad("A message event needs sender open_id and message chat_id")
    cache = get_cache()
    seen_key = f"feishu:event:{event_id}"
    if await cache.get(seen_key) is not None:
        return EventAck(duplicate=True)
    found = await session.execute(select(FeishuEvent.id).where(FeishuEvent.event_id == event_id))
    if found.first() is not None:
        await cache.set(seen_key, "1", ttl=SEEN_TTL_S)
        return EventAck(duplicate=True)
    row = FeishuEvent(event_id=event_id, open_id=open_id, chat_id=chat_id)
    row.text = _message_text(message)
    await repository.add_event(session, row)
    jobs.submit_on_commit(session, row.id, seen_key)
    return EventAck()
