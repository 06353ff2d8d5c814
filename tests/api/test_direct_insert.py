"""db.direct.insert_row stores exactly the row the ORM's flush would store (SQLite)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from tiangong.conversations.models import Conversation, Message
from tiangong.db import one_hop
from tiangong.db.base import new_id
from tiangong.db.direct import insert_row
from tiangong.db.engine import get_engine, session_factory

SKIP = {"id", "uid", "created_at", "updated_at", "conversation_id"}


def _message(conversation_id: str, **fields: Any) -> Message:
    return Message(uid=new_id(), conversation_id=conversation_id, **fields)


_QUERIES = {
    "conversations": "SELECT * FROM conversations WHERE id = :v",
    "messages": "SELECT * FROM messages WHERE uid = :v",
}


async def _raw(table: str, value: Any) -> dict[str, Any]:
    """The stored row as SQLite holds it (no type processing on the way out)."""
    async with session_factory()() as session:
        row = (await session.execute(text(_QUERIES[table]), {"v": value})).mappings().one()
        return dict(row)


async def test_direct_insert_stores_what_the_orm_stores(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    if get_engine().dialect.name != "sqlite":
        pytest.skip("the direct insert is SQLite's")
    user_id = (await client.get("/api/v1/auth/me", headers=user_headers)).json()["id"]
    cases: list[dict[str, Any]] = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "status": "streaming", "model": "m", "retry_group_id": None},
        {
            "role": "assistant",
            "content": "done",
            "token_usage": {"prompt_tokens": 3},
            "tool_calls": [{"name": "t", "arguments": {"a": 1}}],
            "citations": None,
            "retry_group_id": "g",
            "retry_index": 2,
            "error": None,
        },
    ]

    def store(direct: bool) -> tuple[str, list[tuple[str, int]]]:
        def write(session: Any) -> tuple[str, list[tuple[str, int]]]:
            conversation = Conversation(
                id=new_id(), user_id=user_id, source="bare", title="t", message_count=3
            )
            messages = [_message(conversation.id, **case) for case in cases]
            if direct:
                insert_row(session, conversation)
                for message in messages:
                    message.id = insert_row(session, message)
            else:
                session.add(conversation)
                session.add_all(messages)
                session.flush()
            return conversation.id, [(m.uid, m.id) for m in messages]

        return write

    orm_conversation, orm_messages = await one_hop.write(store(False))
    direct_conversation, direct_messages = await one_hop.write(store(True))

    orm_row = await _raw("conversations", orm_conversation)
    direct_row = await _raw("conversations", direct_conversation)
    assert {k: v for k, v in direct_row.items() if k not in SKIP} == {
        k: v for k, v in orm_row.items() if k not in SKIP
    }
    assert direct_row["created_at"] and direct_row["updated_at"]
    for (orm_uid, _), (direct_uid, direct_id) in zip(orm_messages, direct_messages, strict=True):
        orm_message = await _raw("messages", orm_uid)
        direct_message = await _raw("messages", direct_uid)
        assert direct_message["id"] == direct_id
        assert {k: v for k, v in direct_message.items() if k not in SKIP} == {
            k: v for k, v in orm_message.items() if k not in SKIP
        }
    # And they read back through the ORM alike.
    async with session_factory()() as session:
        rows = (
            await session.execute(select(Message).where(Message.uid == direct_messages[2][0]))
        ).scalar_one()
        assert rows.token_usage == {"prompt_tokens": 3} and rows.retry_index == 2
