from __future__ import annotations

from typing import Any

import httpx
import pytest

AGENTS = "/api/v1/agents"


async def _agent(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(
        AGENTS, json={"name": "runner", "system_prompt": "Be brief."}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_execute_in_agent_mode_returns_the_output(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    fake_llm.script([{"content": "done it", "usage": {"prompt_tokens": 5, "completion_tokens": 2}}])
    response = await client.post(
        f"{AGENTS}/{agent_id}/execute", json={"input": "do it"}, headers=user_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["mode"], body["output"], body["status"]) == ("agent", "done it", "complete")
    assert body["token_usage"]["completion_tokens"] == 2
    again = await client.post(
        f"{AGENTS}/{agent_id}/execute",
        json={"input": "again", "session_id": body["session_id"]},
        headers=user_headers,
    )
    assert again.json()["session_id"] == body["session_id"]


@pytest.mark.parametrize("mode", ["debate", "graph", "teleport", ""])
async def test_execute_rejects_other_modes_clearly(
    client: httpx.AsyncClient, user_headers: dict[str, str], mode: str
) -> None:
    agent_id = await _agent(client, user_headers)
    response = await client.post(
        f"{AGENTS}/{agent_id}/execute", json={"input": "x", "mode": mode}, headers=user_headers
    )
    assert response.status_code == 422
    assert "supported" in response.json()["message"]
    assert response.json()["details"][0]["field"] == "body.mode"


async def test_execute_needs_input_token_and_ownership(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    agent_id = await _agent(client, user_headers)
    path = f"{AGENTS}/{agent_id}/execute"
    assert (await client.post(path, json={}, headers=user_headers)).status_code == 422
    assert (await client.post(path, json={"input": "x"})).status_code == 401
    other = await client.post(path, json={"input": "x"}, headers=other_headers)
    assert other.status_code == 404 and other.json()["error"] == "AGENT_NOT_FOUND"


async def test_preview_chat_history_shows_the_latest_session(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers)
    path = f"{AGENTS}/{agent_id}/preview-chat-history"
    empty = (await client.get(path, headers=user_headers)).json()
    assert empty["session_id"] is None and empty["messages"] == []
    fake_llm.script([{"content": "preview answer"}])
    run = (
        await client.post(
            f"{AGENTS}/{agent_id}/execute", json={"input": "hello"}, headers=user_headers
        )
    ).json()
    preview = (await client.get(path, headers=user_headers)).json()
    assert preview["session_id"] == run["session_id"]
    assert [m["content"] for m in preview["messages"]] == ["hello", "preview answer"]
    assert [s["id"] for s in preview["sessions"]] == [run["session_id"]]
    chosen = await client.get(
        path, params={"session_id": run["session_id"], "limit": 1}, headers=user_headers
    )
    assert [m["content"] for m in chosen.json()["messages"]] == ["preview answer"]


async def test_preview_chat_history_bad_input_token_and_ownership(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    agent_id = await _agent(client, user_headers)
    path = f"{AGENTS}/{agent_id}/preview-chat-history"
    assert (await client.get(path, params={"limit": 0}, headers=user_headers)).status_code == 422
    unknown = await client.get(path, params={"session_id": "nope"}, headers=user_headers)
    assert unknown.status_code == 404
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers=other_headers)).status_code == 404
