"""The SmartFlow contract: envelopes, status codes, cache-first history, reasoning, retries."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import parse_sse
from tiangong.cache import get_cache
from tiangong.cache.redis import RedisCache
from tiangong.conversations import history, turns
from tiangong.conversations.models import Message
from tiangong.db.engine import session_factory

CHAT = "/api/v1/agent/chat"
LIST = "/api/v1/agent/conversation-list"
HISTORY = "/api/v1/agent/conversation-history"


async def _chat(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> list[tuple[str, Any]]:
    response = await client.post(CHAT, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return parse_sse(response.text)


async def _history(
    client: httpx.AsyncClient, headers: dict[str, str], cid: str
) -> list[dict[str, Any]]:
    response = await client.get(HISTORY, params={"conversation_id": cid}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "10000" and body["info"] == "成功"
    return list(body["data"])


async def _settle() -> None:
    """Wait for turns that are still finishing (their call log is written after `done`)."""
    for _ in range(200):
        if not turns._running:
            return
        await asyncio.sleep(0.01)


async def _flush_cache() -> None:
    cache = get_cache()
    if isinstance(cache, RedisCache):
        keys = [k async for k in cache.client.scan_iter(match=f"{cache.prefix}conv:*")]
        if keys:
            await cache.client.delete(*keys)
    else:
        await cache.close()


async def test_first_message_creates_a_conversation_and_streams(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script([{"content": "明天先做数据库联调。", "chunk_size": 3}])
    events = await _chat(client, user_headers, message="帮我看看明天的任务安排。", model="worker")
    names = [n for n, _ in events]
    assert names[0] == "meta" and names[-1] == "done"
    meta = events[0][1]
    assert meta["conversation_created"] is True
    uuid.UUID(meta["conversation_id"])
    assert "".join(d["text"] for n, d in events if n == "token") == "明天先做数据库联调。"
    done = events[-1][1]
    assert done["message_id"] == meta["assistant_message_id"]
    assert done["content"] == "明天先做数据库联调。"


async def test_history_returns_the_exact_contract_fields(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script([{"content": "answer"}])
    events = await _chat(client, user_headers, message="question", model="worker")
    cid = events[0][1]["conversation_id"]
    data = await _history(client, user_headers, cid)
    assert [(m["role"], m["content"]) for m in data] == [
        ("user", "question"),
        ("assistant", "answer"),
    ]
    assert set(data[0]) == {
        "id",
        "role",
        "content",
        "created_at",
        "reasoning_content",
        "reasoning_duration_seconds",
        "retry_group_id",
        "retry_index",
        "retry_total",
    }
    assert isinstance(data[0]["id"], int) and data[1]["id"] == data[0]["id"] + 1


async def test_model_reasoning_is_aggregated_and_timed(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script(
        [{"reasoning": "先想一想，再回答。", "content": "好的", "chunk_size": 2, "delay_ms": 60}]
    )
    events = await _chat(client, user_headers, message="q", model="worker", thinking=True)
    assert "".join(d["text"] for n, d in events if n == "reasoning") == "先想一想，再回答。"
    assert fake_llm.requests[-1].get("enable_thinking") is True
    done = events[-1][1]
    assert done["reasoning_content"] == "先想一想，再回答。"
    assert done["reasoning_duration_seconds"] >= 0
    await _settle()
    data = await _history(client, user_headers, events[0][1]["conversation_id"])
    assert data[1]["reasoning_content"] == "先想一想，再回答。"


async def test_stage_reasoning_when_the_model_gives_none(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script([{"content": "没有推理的回答"}])
    events = await _chat(client, user_headers, message="q", model="worker", thinking=True)
    reasoning = "".join(d["text"] for n, d in events if n == "reasoning")
    assert reasoning.startswith("阶段：request.accepted\n用户请求已接收。")
    assert events[-1][1]["reasoning_content"] == reasoning


async def test_no_reasoning_without_thinking(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script([{"content": "plain"}])
    events = await _chat(client, user_headers, message="q", model="worker", thinking=False)
    assert "reasoning" not in [n for n, _ in events]
    assert "enable_thinking" not in fake_llm.requests[-1]


async def test_retry_groups_versions_and_history_reads_them_from_cache_and_database(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script([{"content": "version one"}, {"content": "version two"}])
    first = await _chat(client, user_headers, message="重要任务？", model="worker")
    meta = first[0][1]
    cid = meta["conversation_id"]
    retry = await _chat(
        client,
        user_headers,
        conversation_id=cid,
        message="重要任务？",
        model="worker",
        extra={
            "request_mode": "retry",
            "retry_group_id": "retry-group-001",
            "retry_from_user_message_id": meta["user_message_id"],
            "retry_from_assistant_message_id": meta["assistant_message_id"],
        },
    )
    assert retry[0][1]["retry_group_id"] == "retry-group-001"
    assert retry[0][1]["retry_index"] == 2
    # The retry answered the same question, without the first answer in its context.
    assert [m["content"] for m in fake_llm.requests[-1]["messages"]] == ["重要任务？"]

    # Read at once: the cache already has both versions.
    cached = await _history(client, user_headers, cid)
    assert [m["content"] for m in cached] == ["重要任务？", "version one", "version two"]
    assert [(m["retry_index"], m["retry_total"]) for m in cached] == [(None, 2), (1, 2), (2, 2)]
    assert {m["retry_group_id"] for m in cached} == {"retry-group-001"}

    await _settle()
    await _flush_cache()
    from_db = await _history(client, user_headers, cid)
    assert from_db == cached
    # The refill puts the cache back, with the same answer again.
    assert await _history(client, user_headers, cid) == cached


async def test_later_turns_see_only_the_latest_retry(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script([{"content": "old"}, {"content": "new"}, {"content": "next"}])
    first = await _chat(client, user_headers, message="q1", model="worker")
    cid = first[0][1]["conversation_id"]
    await _chat(
        client,
        user_headers,
        conversation_id=cid,
        message="q1",
        extra={
            "request_mode": "retry",
            "retry_from_assistant_message_id": first[0][1]["assistant_message_id"],
        },
    )
    await _settle()
    await _chat(client, user_headers, conversation_id=cid, message="q2")
    assert [m["content"] for m in fake_llm.requests[-1]["messages"]] == ["q1", "new", "q2"]


async def test_history_is_served_from_cache_before_the_database_write_lands(
    live_url: str,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = asyncio.Event()
    real_save = turns._save

    async def delayed_save(final: Any) -> None:
        await gate.wait()
        await real_save(final)

    monkeypatch.setattr(turns, "_save", delayed_save)
    fake_llm.script([{"content": "optimistic"}])
    # The answer is saved before `done`, so the stream stays open while the save is held back;
    # history read meanwhile must already hold the final answer (from the cache).
    body = {"message": "q", "model": "worker"}
    async with (
        httpx.AsyncClient(base_url=live_url, timeout=10) as http,
        http.stream("POST", CHAT, json=body, headers=user_headers) as response,
    ):
        lines = response.aiter_lines()
        cid = None
        async for line in lines:
            if line.startswith("data:") and cid is None:
                cid = json.loads(line[5:])["conversation_id"]
                break
        assert cid is not None
        for _ in range(200):
            data = await _history(client, user_headers, cid)
            if len(data) == 2 and data[1]["content"] == "optimistic":
                break
            await asyncio.sleep(0.01)
        assert data[1]["content"] == "optimistic"
        async with session_factory()() as session:
            row = (
                await session.execute(select(Message).where(Message.id == data[1]["id"]))
            ).scalar_one()
            assert row.status == "streaming" and row.content == ""
        gate.set()
        rest = "\n".join([line async for line in lines])
    assert "event: done" in rest
    async with session_factory()() as session:
        row = (
            await session.execute(select(Message).where(Message.id == data[1]["id"]))
        ).scalar_one()
        assert row.status == "complete" and row.content == "optimistic"


async def test_history_source_is_cache_then_database_after_flush(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    events = await _chat(client, user_headers, message="q", model="worker")
    cid = events[0][1]["conversation_id"]
    await _settle()
    async with session_factory()() as session:
        _, source = await history.read(session, cid)
        assert source == "database"
        _, source = await history.read(session, cid)
        assert source == "cache"


async def test_conversation_list_pages_with_page_size_and_limit_alias(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    for i in range(3):
        await _chat(client, user_headers, message=f"对话 {i}", model="worker")
    page = (await client.get(LIST, params={"page": 1, "page_size": 2}, headers=user_headers)).json()
    assert page["status"] == "10000"
    data = page["data"]
    assert (data["total"], data["page"], data["page_size"], data["limit"], data["has_more"]) == (
        3,
        1,
        2,
        2,
        True,
    )
    assert [item["title"] for item in data["list"]] == ["对话 2", "对话 1"]
    item = data["list"][0]
    assert set(item) == {
        "conversation_id",
        "title",
        "has_title",
        "message_count",
        "last_message_at",
        "status",
        "created_at",
    }
    assert item["message_count"] == 2 and item["status"] == "active"
    alias = (await client.get(LIST, params={"page": 2, "limit": 2}, headers=user_headers)).json()[
        "data"
    ]
    assert (len(alias["list"]), alias["has_more"], alias["limit"]) == (1, False, 2)
    archived = (await client.get(LIST, params={"status": "archived"}, headers=user_headers)).json()
    assert archived["data"]["total"] == 0


async def test_unknown_model_is_400_with_envelope(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any
) -> None:
    response = await client.post(
        CHAT, json={"message": "q", "model": "no-such"}, headers=user_headers
    )
    assert response.status_code == 400
    assert response.json()["status"] == "40003"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", HISTORY, {}, "40001"),
        ("get", HISTORY, {"params": {"conversation_id": "not-a-uuid"}}, "40005"),
        ("get", HISTORY, {"params": {"conversation_id": str(uuid.uuid4())}}, "40004"),
        ("get", LIST, {"params": {"page": 0}}, "40005"),
        ("get", LIST, {"params": {"page_size": 101}}, "40005"),
        ("get", LIST, {"params": {"limit": "abc"}}, "40005"),
        ("get", LIST, {"params": {"status": "deleted"}}, "40005"),
        ("post", CHAT, {"json": {}}, "40001"),
        ("post", CHAT, {"json": {"message": "   "}}, "40005"),
        ("post", CHAT, {"json": {"message": "q", "conversation_id": "123"}}, "40005"),
        ("post", CHAT, {"json": {"message": "q", "conversation_id": str(uuid.uuid4())}}, "40004"),
        ("post", CHAT, {"json": {"message": "q", "extra": {"request_mode": "retry"}}}, "40001"),
        ("post", CHAT, {"json": {"message": "q", "thinking": "maybe"}}, "40005"),
    ],
)
async def test_bad_parameters_are_400_in_the_error_envelope(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: str,
) -> None:
    response = await getattr(client, method)(path, headers=user_headers, **kwargs)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"status", "info"}
    assert body["status"] == status and body["info"]


async def test_bad_retry_targets_are_400(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    events = await _chat(client, user_headers, message="q", model="worker")
    meta = events[0][1]
    bad = [
        {"request_mode": "retry", "retry_from_user_message_id": meta["assistant_message_id"]},
        {"request_mode": "retry", "retry_from_assistant_message_id": meta["user_message_id"]},
        {"request_mode": "retry", "retry_from_assistant_message_id": 999999},
    ]
    for extra in bad:
        response = await client.post(
            CHAT,
            json={"message": "q", "conversation_id": meta["conversation_id"], "extra": extra},
            headers=user_headers,
        )
        assert response.status_code == 400
        assert response.json()["status"] == "40006"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", CHAT, {"json": {"message": "q"}}),
        ("get", LIST, {}),
        ("get", HISTORY, {"params": {"conversation_id": str(uuid.uuid4())}}),
    ],
)
async def test_no_or_bad_token_is_401_in_the_error_envelope(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
        response = await getattr(client, method)(path, headers=headers, **kwargs)
        assert response.status_code == 401
        assert response.json()["status"] == "40100"


async def test_another_users_conversation_is_unknown(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    events = await _chat(client, user_headers, message="private", model="worker")
    cid = events[0][1]["conversation_id"]
    response = await client.get(HISTORY, params={"conversation_id": cid}, headers=other_headers)
    assert response.status_code == 400 and response.json()["status"] == "40004"
    chat = await client.post(
        CHAT, json={"message": "q", "conversation_id": cid}, headers=other_headers
    )
    assert chat.status_code == 400 and chat.json()["status"] == "40004"
    listed = (await client.get(LIST, headers=other_headers)).json()
    assert listed["data"]["total"] == 0


async def test_retry_before_the_first_answer_reaches_the_database_keeps_both_versions(
    live_url: str,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = asyncio.Event()
    real_save = turns._save

    async def delayed_save(final: Any) -> None:
        await gate.wait()
        await real_save(final)

    monkeypatch.setattr(turns, "_save", delayed_save)
    fake_llm.script([{"content": "version one"}, {"content": "version two"}])

    async def chat_live(body: dict[str, Any], meta: asyncio.Future[dict[str, Any]]) -> None:
        # Streams do not end while their save is held, so each runs against the live server.
        async with (
            httpx.AsyncClient(base_url=live_url, timeout=10) as http,
            http.stream("POST", CHAT, json=body, headers=user_headers) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("data:") and not meta.done():
                    meta.set_result(json.loads(line[5:]))

    async def history_with(cid: str, count: int) -> list[dict[str, Any]]:
        for _ in range(300):
            data = await _history(client, user_headers, cid)
            if len(data) == count and data[-1]["content"]:
                return data
            await asyncio.sleep(0.01)
        raise AssertionError(f"history never reached {count} messages: {data}")

    loop = asyncio.get_running_loop()
    first_meta: asyncio.Future[dict[str, Any]] = loop.create_future()
    first = asyncio.create_task(chat_live({"message": "q", "model": "worker"}, first_meta))
    meta = await asyncio.wait_for(first_meta, 10)
    await history_with(meta["conversation_id"], 2)
    retry_body = {
        "conversation_id": meta["conversation_id"],
        "message": "q",
        "extra": {
            "request_mode": "retry",
            "retry_from_assistant_message_id": meta["assistant_message_id"],
        },
    }
    retry = asyncio.create_task(chat_live(retry_body, loop.create_future()))
    cached = await history_with(meta["conversation_id"], 3)
    assert [m["content"] for m in cached] == ["q", "version one", "version two"]
    assert [(m["retry_index"], m["retry_total"]) for m in cached] == [(None, 2), (1, 2), (2, 2)]
    gate.set()
    await asyncio.wait_for(asyncio.gather(first, retry), 10)
    await _settle()
    await _flush_cache()
    assert await _history(client, user_headers, meta["conversation_id"]) == cached
