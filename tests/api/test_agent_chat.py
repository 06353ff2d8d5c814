from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from tests.conftest import FAKE_LLM_KEY, parse_sse
from tiangong.conversations.models import Message
from tiangong.db.engine import session_factory
from tiangong.llm_logs.models import LLMCallLog

CHAT = "/api/v1/agent-chat"


async def _agent(client: httpx.AsyncClient, headers: dict[str, str], **over: Any) -> str:
    body = {"name": "helper", "system_prompt": "You are helpful.", "iteration_limit": 3}
    body.update(over)
    response = await client.post("/api/v1/agents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _messages(conversation_id: str) -> list[Message]:
    async with session_factory()() as session:
        stmt = (
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
        return list((await session.execute(stmt)).scalars())


async def _settled(conversation_id: str) -> list[Message]:
    """Messages once the answer's database write has landed (it follows the done event)."""
    for _ in range(200):
        rows = await _messages(conversation_id)
        if rows and all(m.status != "streaming" for m in rows):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError("the answer was never saved")


async def test_agent_chat_replies_and_stores_both_messages(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script(
        [{"content": "Hello there!", "usage": {"prompt_tokens": 12, "completion_tokens": 3}}]
    )
    response = await client.post(f"{CHAT}/{agent_id}", json={"message": "hi"}, headers=user_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reply"] == "Hello there!"
    assert body["agent_id"] == agent_id
    assert body["token_usage"]["prompt_tokens"] == 12
    sent = fake_llm.requests[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "You are helpful."}
    assert sent[-1] == {"role": "user", "content": "hi"}
    rows = await _settled(body["session_id"])
    assert [(m.role, m.content, m.status) for m in rows] == [
        ("user", "hi", "complete"),
        ("assistant", "Hello there!", "complete"),
    ]


async def test_streamlined_reply_has_only_session_and_text(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script([{"content": "short"}])
    response = await client.post(
        f"{CHAT}/{agent_id}", json={"message": "hi", "streamlined": True}, headers=user_headers
    )
    assert set(response.json()) == {"session_id", "reply"}


async def test_session_id_continues_the_conversation_without_reasoning(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script(
        [{"content": "first answer", "reasoning": "secret thoughts"}, {"content": "second"}]
    )
    first = (
        await client.post(f"{CHAT}/{agent_id}", json={"message": "q1"}, headers=user_headers)
    ).json()
    assert first["reasoning_content"] == "secret thoughts"
    await _settled(first["session_id"])
    second = await client.post(
        f"{CHAT}/{agent_id}",
        json={"message": "q2", "session_id": first["session_id"]},
        headers=user_headers,
    )
    assert second.json()["session_id"] == first["session_id"]
    sent = fake_llm.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == "first answer"
    assert "secret thoughts" not in str(sent)


async def test_context_is_trimmed_oldest_turns_first(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    config = {
        "name": "tiny",
        "base_url": fake_llm.base_url,
        "model_name": "m",
        "api_key": FAKE_LLM_KEY,
        "context_window": 600,
        "max_tokens": 100,
    }
    created = await client.post("/api/v1/model-configs", json=config, headers=user_headers)
    agent_id = await _agent(client, user_headers, model_config={"config_id": created.json()["id"]})
    session_id = None
    for turn in range(6):
        fake_llm.script([{"content": f"answer {turn} " + "x" * 400}])
        body: dict[str, Any] = {"message": f"question {turn} " + "y" * 400}
        if session_id:
            body["session_id"] = session_id
        reply = (await client.post(f"{CHAT}/{agent_id}", json=body, headers=user_headers)).json()
        session_id = reply["session_id"]
        await _settled(session_id)
    sent = fake_llm.requests[-1]["messages"]
    assert sent[-1]["content"].startswith("question 5")
    assert len(sent) < 12
    assert not any(m["content"].startswith("question 0") for m in sent)


async def test_stream_sends_session_tokens_reasoning_and_done(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script([{"content": "abcdefgh", "reasoning": "hmm", "chunk_size": 2}])
    response = await client.post(
        f"{CHAT}/{agent_id}/stream", json={"message": "go"}, headers=user_headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]
    assert names[0] == "session" and names[-1] == "done"
    assert "".join(d["text"] for n, d in events if n == "token") == "abcdefgh"
    assert [n for n in names if n == "token"] == ["token"] * 4
    assert "".join(d["text"] for n, d in events if n == "reasoning") == "hmm"
    done = events[-1][1]
    assert done["content"] == "abcdefgh" and "token_usage" in done
    assert done["message_id"] == events[0][1]["message_id"]


async def test_streamlined_stream_leaves_out_reasoning(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script([{"content": "ok", "reasoning": "hidden"}])
    response = await client.post(
        f"{CHAT}/{agent_id}/stream",
        json={"message": "go", "streamlined": True},
        headers=user_headers,
    )
    assert "reasoning" not in [name for name, _ in parse_sse(response.text)]


async def test_provider_failure_mid_stream_sends_error_and_keeps_the_partial(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script([{"content": "partial answer that breaks", "fault": "drop", "drop_after": 2}])
    response = await client.post(
        f"{CHAT}/{agent_id}/stream", json={"message": "go"}, headers=user_headers
    )
    events = parse_sse(response.text)
    assert events[-1][0] == "error"
    assert events[-1][1]["code"] == "LLM_STREAM_INTERRUPTED"
    rows = await _settled(events[0][1]["session_id"])
    assert rows[0].content == "go"
    assert rows[1].status == "failed" and rows[1].content
    assert "partial answer that breaks".startswith(rows[1].content)


async def test_provider_failure_in_json_mode_is_a_clear_502(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script([{"fault": "500", "times": 10}])
    response = await client.post(f"{CHAT}/{agent_id}", json={"message": "go"}, headers=user_headers)
    assert response.status_code == 502
    assert response.json()["error"] == "LLM_PROVIDER_ERROR"


async def test_every_llm_call_is_logged(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script([{"content": "logged", "usage": {"prompt_tokens": 7, "completion_tokens": 2}}])
    reply = (
        await client.post(f"{CHAT}/{agent_id}", json={"message": "hi"}, headers=user_headers)
    ).json()
    async with session_factory()() as session:
        for _ in range(100):
            rows = list((await session.execute(select(LLMCallLog))).scalars())
            if rows:
                break
            await asyncio.sleep(0.02)
    assert len(rows) == 1
    log = rows[0]
    assert (log.agent_id, log.conversation_id, log.model) == (
        agent_id,
        reply["session_id"],
        "fake-model",
    )
    assert (log.prompt_tokens, log.completion_tokens, log.outcome) == (7, 2, "ok")
    assert log.ttft_ms is not None and log.latency_ms >= log.ttft_ms


async def test_bare_chat_uses_the_default_model(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    fake_llm.script([{"content": "bare reply"}])
    response = await client.post(f"{CHAT}/bare", json={"message": "hi"}, headers=user_headers)
    assert response.status_code == 200, response.text
    assert response.json()["reply"] == "bare reply"
    assert fake_llm.requests[-1]["messages"] == [{"role": "user", "content": "hi"}]
    stream = await client.post(
        f"{CHAT}/bare/stream", json={"message": "again"}, headers=user_headers
    )
    assert parse_sse(stream.text)[-1][0] == "done"


async def test_bare_chat_without_any_model_is_a_clear_400(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.post(f"{CHAT}/bare", json={"message": "hi"}, headers=user_headers)
    assert response.status_code == 400
    assert response.json()["error"] == "NO_MODEL_CONFIGURED"


async def test_stopped_agent_refuses_chat(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    await client.post(f"/api/v1/agents/{agent_id}/deploy", headers=user_headers)
    await client.post(f"/api/v1/agents/{agent_id}/stop", headers=user_headers)
    response = await client.post(f"{CHAT}/{agent_id}", json={"message": "hi"}, headers=user_headers)
    assert response.status_code == 409
    assert response.json()["error"] == "AGENT_STOPPED"


async def test_bad_input_no_token_and_other_users_objects(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    agent_id = await _agent(client, user_headers)
    for path in (
        f"{CHAT}/{agent_id}",
        f"{CHAT}/{agent_id}/stream",
        f"{CHAT}/bare",
        f"{CHAT}/bare/stream",
    ):
        empty = await client.post(path, json={"message": ""}, headers=user_headers)
        assert empty.status_code == 422 and empty.json()["error"] == "VALIDATION_ERROR"
        assert (await client.post(path, json={"message": "x"})).status_code == 401
    for path in (f"{CHAT}/{agent_id}", f"{CHAT}/{agent_id}/stream"):
        other = await client.post(path, json={"message": "x"}, headers=other_headers)
        assert other.status_code == 404 and other.json()["error"] == "AGENT_NOT_FOUND"
    fake_llm.script([{"content": "mine"}])
    mine = (
        await client.post(f"{CHAT}/{agent_id}", json={"message": "x"}, headers=user_headers)
    ).json()
    theirs = await client.post(
        f"{CHAT}/bare",
        json={"message": "x", "session_id": mine["session_id"]},
        headers=other_headers,
    )
    assert theirs.status_code == 404 and theirs.json()["error"] == "CONVERSATION_NOT_FOUND"


async def test_branch_forks_and_context_follows_the_branch(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script([{"content": "A1"}, {"content": "A2"}])
    first = (
        await client.post(f"{CHAT}/{agent_id}", json={"message": "Q1"}, headers=user_headers)
    ).json()
    session_id = first["session_id"]
    await _settled(session_id)
    await client.post(
        f"{CHAT}/{agent_id}", json={"message": "Q2", "session_id": session_id}, headers=user_headers
    )
    await _settled(session_id)

    created = await client.post(
        f"{CHAT}/branches",
        json={"session_id": session_id, "message_id": first["message_id"], "name": "alt"},
        headers=user_headers,
    )
    assert created.status_code == 201, created.text
    branch = created.json()
    assert branch["parent_session_id"] == session_id and branch["message_count"] == 2

    detail = (await client.get(f"{CHAT}/branches/{branch['id']}", headers=user_headers)).json()
    assert [m["content"] for m in detail["messages"]] == ["Q1", "A1"]

    fake_llm.script([{"content": "B2"}])
    resumed = await client.post(
        f"{CHAT}/branches/{branch['id']}/resume", json={"message": "Q2 alt"}, headers=user_headers
    )
    assert resumed.json()["reply"] == "B2"
    sent = [m["content"] for m in fake_llm.requests[-1]["messages"] if m["role"] != "system"]
    assert sent == ["Q1", "A1", "Q2 alt"]

    listed = (
        await client.get(
            f"{CHAT}/branches", params={"session_id": session_id}, headers=user_headers
        )
    ).json()
    assert [b["id"] for b in listed["items"]] == [branch["id"]]
    plain = await client.post(
        f"{CHAT}/branches/{branch['id']}/resume", json={}, headers=user_headers
    )
    assert plain.json()["messages"][-1]["content"] == "B2"

    for call in (
        client.get(f"{CHAT}/branches/{branch['id']}", headers=other_headers),
        client.delete(f"{CHAT}/branches/{branch['id']}", headers=other_headers),
        client.post(f"{CHAT}/branches/{branch['id']}/resume", json={}, headers=other_headers),
        client.post(
            f"{CHAT}/branches",
            json={"session_id": session_id, "message_id": 1},
            headers=other_headers,
        ),
    ):
        assert (await call).status_code == 404
    assert (await client.get(f"{CHAT}/branches", headers=other_headers)).json()["total"] == 0
    assert (
        await client.delete(f"{CHAT}/branches/{branch['id']}", headers=user_headers)
    ).status_code == 204
    assert (
        await client.get(f"{CHAT}/branches/{branch['id']}", headers=user_headers)
    ).status_code == 404


async def test_branch_endpoints_validate_and_need_a_token(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    bad = await client.post(
        f"{CHAT}/branches", json={"session_id": "x", "message_id": 0}, headers=user_headers
    )
    assert bad.status_code == 422
    missing = await client.post(
        f"{CHAT}/branches", json={"session_id": "nope", "message_id": 5}, headers=user_headers
    )
    assert missing.status_code == 404
    for call in (
        client.post(f"{CHAT}/branches", json={}),
        client.get(f"{CHAT}/branches"),
        client.get(f"{CHAT}/branches/x"),
        client.delete(f"{CHAT}/branches/x"),
        client.post(f"{CHAT}/branches/x/resume", json={}),
    ):
        assert (await call).status_code == 401


async def test_client_disconnect_mid_stream_loses_nothing(
    live_url: str,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    agent_id = await _agent(client, user_headers)
    text = "".join(f"w{i} " for i in range(40))
    fake_llm.script([{"content": text, "chunk_size": 3, "delay_ms": 20}])
    session_id = None
    async with httpx.AsyncClient(base_url=live_url, timeout=10) as http:
        async with http.stream(
            "POST", f"{CHAT}/{agent_id}/stream", json={"message": "long one"}, headers=user_headers
        ) as response:
            seen = 0
            async for line in response.aiter_lines():
                if line.startswith("data: ") and session_id is None:
                    import json

                    session_id = json.loads(line[6:])["session_id"]
                if line.startswith("event: token"):
                    seen += 1
                    if seen == 3:
                        break
    # The connection is closed here, mid-answer.
    assert session_id is not None
    rows = await _settled(session_id)
    assert rows[0].role == "user" and rows[0].content == "long one"
    assert rows[1].role == "assistant"
    assert rows[1].status in ("complete", "incomplete")
    assert rows[1].content and text.startswith(rows[1].content)
