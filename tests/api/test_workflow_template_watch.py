"""Issue #6, done means: the content_review_loop template (llm, condition, loop, approval and
code nodes) runs end to end through the API against the fake LLM, pauses for approval, resumes
after approval, and its WebSocket shows every node event."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.api.test_workflow_watch import recv, recv_until, token_of, ws_url
from tiangong.workflows.templates.catalogue import definition_of

TEMPLATE = "content_review_loop"


async def test_template_runs_pauses_resumes_and_the_socket_sees_every_node_event(
    client: httpx.AsyncClient,
    live_url: str,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    # One paragraph per section; the first is slow so the socket is open before it lands.
    fake_llm.script(
        [
            {"content": "Tea is a drink.", "first_token_delay_ms": 800},
            {"content": "It grows on hills."},
            {"content": "Drink it warm."},
        ]
    )
    created = await client.post(
        f"/api/v1/workflows/templates/{TEMPLATE}/create", json={}, headers=user_headers
    )
    assert created.status_code == 201, created.text
    workflow = created.json()
    started = await client.post(
        f"/api/v1/workflows/{workflow['id']}/execute",
        json={"inputs": {"topic": "tea"}, "mode": "async"},
        headers=user_headers,
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]

    async with connect(ws_url(live_url, run_id, token_of(user_headers))) as ws:
        snapshot = await recv(ws)
        assert snapshot["type"] == "snapshot"
        before = {n["node_id"]: n["status"] for n in snapshot["nodes"]}
        frames = await recv_until(ws, "run_paused")
        assert frames[-1]["pending"][0]["node_id"] == "review"

        pending = (await client.get("/api/v1/approval/pending", headers=user_headers)).json()
        [approval] = [a for a in pending["items"] if a["run_id"] == run_id]
        decided = await client.post(
            f"/api/v1/approval/{approval['approval_id']}/decide",
            json={"approved": True, "comment": "ship it"},
            headers=user_headers,
        )
        assert decided.status_code == 200, decided.text
        frames += await recv_until(ws, "run_finished")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1000

    final = frames[-1]
    assert final["outputs"]["status"] == "published"
    assert final["outputs"]["comment"] == "ship it"
    assert "Tea is a drink." in final["outputs"]["article"]
    assert len(fake_llm.requests) == 3

    # Every node the run recorded shows up on the socket (or, for what finished before the
    # socket opened, in its snapshot), with the status the run recorded.
    run = (await client.get(f"/api/v1/executions/{run_id}", headers=user_headers)).json()
    assert run["status"] == "succeeded"
    seen: dict[str, set[str]] = {}
    for frame in frames:
        if frame["type"].startswith("node_"):
            seen.setdefault(frame["node_id"], set()).add(frame["type"])
    nodes = definition_of(TEMPLATE)["definition"]["nodes"]
    ids = {node["id"] for node in nodes}
    # The llm node is the loop's body: one call per section.
    inner = {node["config"]["node"]["type"] for node in nodes if node["type"] == "loop"}
    assert "llm" in inner
    for node in run["nodes"]:
        node_id, status = node["node_id"], node["status"]
        assert node_id in ids
        if node_id in before and before[node_id] == status:
            continue
        expected = {"succeeded": "node_succeeded", "skipped": "node_skipped"}[status]
        assert expected in seen.get(node_id, set()), (node_id, status, seen.get(node_id))
        if status == "succeeded":
            assert "node_started" in seen[node_id] or node_id in before
    assert "node_waiting" in seen["review"] and "node_succeeded" in seen["review"]
    ran = {n["node_type"] for n in run["nodes"] if n["status"] == "succeeded"}
    assert {"condition", "loop", "approval", "code"} <= ran
