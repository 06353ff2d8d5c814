"""Agents using tools: the loop, the SSE events, approvals, and unknown tools."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.conftest import parse_sse

CHAT = "/api/v1/agent-chat"


async def _agent(client: httpx.AsyncClient, headers: dict[str, str], tools: list[str]) -> str:
    body = {
        "name": "worker",
        "system_prompt": "Use tools.",
        "include_tools": tools,
        "iteration_limit": 6,
    }
    response = await client.post("/api/v1/agents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"id": call_id, "name": name, "arguments": arguments}]}


async def test_multi_step_task_with_three_tools_streams_every_call_and_result(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers, ["text_case", "math_eval", "hash_text"])
    fake_llm.script(
        [
            _call("c1", "text_case", text="tiangong", mode="upper"),
            _call("c2", "math_eval", expression="6 * 7"),
            _call("c3", "hash_text", text="TIANGONG", algorithm="md5"),
            {"content": "TIANGONG, 42, and its md5."},
        ]
    )
    response = await client.post(
        f"{CHAT}/{agent_id}/stream", json={"message": "do the three things"}, headers=user_headers
    )
    events = parse_sse(response.text)
    calls = [d for n, d in events if n == "tool_call"]
    results = [d for n, d in events if n == "tool_result"]
    assert [c["name"] for c in calls] == ["text_case", "math_eval", "hash_text"]
    assert [r["call_id"] for r in results] == ["c1", "c2", "c3"]
    assert all(r["error"] is None and r["duration_ms"] >= 0 for r in results)
    assert "TIANGONG" in json.dumps(results[0]["result"])
    assert "42" in json.dumps(results[1]["result"])
    done = events[-1]
    assert done[0] == "done" and done[1]["content"] == "TIANGONG, 42, and its md5."
    assert [t["name"] for t in done[1]["tool_calls"]] == ["text_case", "math_eval", "hash_text"]
    # Each round trip fed the tool's result back to the model.
    tool_messages = [m for m in fake_llm.requests[-1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["c1", "c2", "c3"]
    # Only the agent's own tools were offered.
    offered = {t["function"]["name"] for t in fake_llm.requests[0]["tools"]}
    assert offered == {"text_case", "math_eval", "hash_text"}


async def test_a_failing_tool_is_reported_to_the_model_not_fatal(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    agent_id = await _agent(client, user_headers, ["math_eval"])
    fake_llm.script([_call("c1", "math_eval", expression="1/0"), {"content": "could not divide"}])
    events = parse_sse(
        (
            await client.post(
                f"{CHAT}/{agent_id}/stream", json={"message": "x"}, headers=user_headers
            )
        ).text
    )
    result = next(d for n, d in events if n == "tool_result")
    assert result["error"]
    assert events[-1][0] == "done"


async def test_unknown_tool_in_include_tools_is_a_clear_400(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any
) -> None:
    agent_id = await _agent(client, user_headers, ["no_such_tool"])
    response = await client.post(f"{CHAT}/{agent_id}", json={"message": "x"}, headers=user_headers)
    assert response.status_code == 400
    assert response.json()["error"] == "UNKNOWN_TOOLS"


async def _approval_tool(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    body = {
        "name": "dangerous_double",
        "description": "Doubles a number, but needs a yes first",
        "kind": "code",
        "requires_approval": True,
        "input_schema": {"type": "object", "properties": {"n": {"type": "number"}}},
        "code": {"code": "def main(n):\n    return n * 2\n"},
    }
    assert (await client.post("/api/v1/tools", json=body, headers=headers)).status_code == 201


async def _stream_until_approval(
    live_url: str, path: str, headers: dict[str, str], decide: Any
) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    async with httpx.AsyncClient(base_url=live_url, timeout=20) as http:
        async with http.stream(
            "POST", path, json={"message": "double 21"}, headers=headers
        ) as response:
            name = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    events.append((name or "message", data))
                    if name == "approval_required":
                        await decide(data["approval_id"])
    return events


async def test_a_tool_needing_approval_waits_then_runs_when_approved(
    live_url: str,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    await _approval_tool(client, user_headers)
    agent_id = await _agent(client, user_headers, ["dangerous_double"])
    fake_llm.script([_call("c1", "dangerous_double", n=21), {"content": "It is 42."}])

    async def approve(approval_id: str) -> None:
        pending = (await client.get("/api/v1/tools/approvals", headers=user_headers)).json()
        assert [p["id"] for p in pending] == [approval_id]
        assert pending[0]["arguments"] == {"n": 21}
        # Someone else cannot decide it.
        other = await client.post(
            f"/api/v1/tools/approvals/{approval_id}/approve", json={}, headers=other_headers
        )
        assert other.status_code == 404
        ok = await client.post(
            f"/api/v1/tools/approvals/{approval_id}/approve", json={}, headers=user_headers
        )
        assert ok.status_code == 200 and ok.json()["status"] == "approved"
        again = await client.post(
            f"/api/v1/tools/approvals/{approval_id}/reject", json={}, headers=user_headers
        )
        assert again.status_code == 409

    events = await _stream_until_approval(
        live_url, f"{CHAT}/{agent_id}/stream", user_headers, approve
    )
    names = [n for n, _ in events]
    assert (
        names.index("approval_required")
        < names.index("approval_result")
        < names.index("tool_result")
    )
    result = next(d for n, d in events if n == "tool_result")
    assert result["error"] is None and result["result"] == {"result": 42}
    assert events[-1][0] == "done"


async def test_a_rejected_tool_call_is_refused_and_the_turn_goes_on(
    live_url: str,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    await _approval_tool(client, user_headers)
    agent_id = await _agent(client, user_headers, ["dangerous_double"])
    fake_llm.script([_call("c1", "dangerous_double", n=21), {"content": "You said no."}])

    async def reject(approval_id: str) -> None:
        await asyncio.sleep(0.05)
        response = await client.post(
            f"/api/v1/tools/approvals/{approval_id}/reject",
            json={"reason": "no"},
            headers=user_headers,
        )
        assert response.status_code == 200

    events = await _stream_until_approval(
        live_url, f"{CHAT}/{agent_id}/stream", user_headers, reject
    )
    result = next(d for n, d in events if n == "tool_result")
    assert "rejected" in result["error"]
    assert events[-1][0] == "done" and events[-1][1]["content"] == "You said no."
