from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from tiangong.conversations.models import Conversation, Message
from tiangong.conversations.reaper import reap_once, stale_after
from tiangong.db.base import new_id, utcnow
from tiangong.db.engine import session_factory


async def _streaming_answer(user_id: str, age: timedelta) -> tuple[str, int]:
    async with session_factory()() as session:
        conversation = Conversation(
            id=new_id(), user_id=user_id, source="smartflow", title="t", message_count=2
        )
        session.add(conversation)
        question = Message(uid=new_id(), conversation_id=conversation.id, role="user", content="q")
        answer = Message(
            uid=new_id(),
            conversation_id=conversation.id,
            role="assistant",
            status="streaming",
            content="half",
        )
        session.add_all([question, answer])
        await session.flush()
        await session.execute(
            update(Message).where(Message.id == answer.id).values(updated_at=utcnow() - age)
        )
        await session.commit()
        return conversation.id, answer.id


async def test_answers_of_a_dead_process_are_marked_incomplete_and_history_agrees(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    me = (await client.get("/api/v1/auth/me", headers=user_headers)).json()["id"]
    old_cid, old_id = await _streaming_answer(me, stale_after() + timedelta(minutes=1))
    live_cid, live_id = await _streaming_answer(me, timedelta(seconds=5))
    assert await reap_once() == 1
    history: Any = (
        await client.get(
            "/api/v1/agent/conversation-history",
            params={"conversation_id": old_cid},
            headers=user_headers,
        )
    ).json()["data"]
    assert history[1]["content"] == "half"
    async with session_factory()() as session:
        old = await session.get(Message, old_id)
        live = await session.get(Message, live_id)
        assert old is not None and old.status == "incomplete" and "INTERRUPTED" in (old.error or "")
        assert live is not None and live.status == "streaming"
