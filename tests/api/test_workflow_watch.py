"""Watching runs live over WebSocket and SSE (real server), through pause, approval and
resume; events published by another process (another bus instance) reach the socket."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests import backends
from tests.api.test_workflows import approval_graph, create, wait_for
from tests.conftest import parse_sse
from tiangong.bus.redis import RedisBus
from tiangong.config import get_settings
from tiangong.db.engine import session_factory
from tiangong.workflows import runner
from tiangong.workflows.models import WorkflowRun

EXEC = "/api/v1/executions"


def review_graph() -> dict[str, Any]:
    """llm -> condition -> loop -> approval -> code, with a short path for short drafts."""
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "topic"}]}},
            {"id": "draft", "type": "llm", "config": {"prompt": "Write about {{start.topic}}"}},
            {
                "id": "check",
                "type": "condition",
                "config": {
                    "variables": {"text": "{{draft.text}}"},
                    "cases": [{"id": "long", "expression": "len(text) > 5"}],
                },
            },
            {
                "id": "lines",
                "type": "loop",
                "config": {
                    "items": ["one", "two"],
                    "node": {
                        "type": "template",
                        "config": {"template": "- {{ w }}", "variables": {"w": "{{lines.item}}"}},
                    },
                },
            },
            {
                "id": "review",
                "type": "approval",
                "config": {"title": "Publish?", "description": "Check the draft", "data": {}},
            },
            {
                "id": "count",
                "type": "code",
                "config": {
                    "code": "def main(text):\n    return {'n': len(text)}\n",
                    "inputs": {"text": "{{draft.text}}"},
                },
            },
            {"id": "end", "type": "end", "config": {"outputs": {"n": "{{count.result.n}}"}}},
            {"id": "short", "type": "end", "config": {"outputs": {"n": 0}}},
        ],
        "edges": [
            {"source": "start", "target": "draft"},
            {"source": "draft", "target": "check"},
            {"source": "check", "target": "lines", "source_handle": "long"},
            {"source": "check", "target": "short", "source_handle": "else"},
            {"source": "lines", "target": "review"},
            {"source": "review", "target": "count", "source_handle": "approved"},
            {"source": "count", "target": "end"},
        ],
    }


def ws_url(live_url: str, run_id: str, token: str | None = None) -> str:
    url = live_url.replace("http://", "ws://") + f"/api/v1/ws/executions/{run_id}"
    return f"{url}?token={token}" if token else url


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split(" ", 1)[1]


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 20)))


async def recv_until(
    ws: ClientConnection, kind: str, node_id: str | None = None
) -> list[dict[str, Any]]:
    """Frames up to and including the first of type `kind` (of node `node_id`)."""
    frames = [await recv(ws)]
    while frames[-1]["type"] != kind or (node_id and frames[-1].get("node_id") != node_id):
        frames.append(await recv(ws))
    return frames


def node_events(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["type"], f["node_id"]) for f in frames if f["type"].startswith("node_")]


async def test_websocket_shows_every_node_event_through_pause_approval_and_resume(
    client: httpx.AsyncClient,
    live_url: str,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    # The draft takes a moment, so the socket is open before anything after it happens.
    fake_llm.script([{"content": "a long enough draft", "first_token_delay_ms": 800}])
    wf = await create(client, user_headers, review_graph())
    body = {"workflow_id": wf["id"], "inputs": {"topic": "cats"}, "mode": "async"}
    response = await client.post(EXEC, json=body, headers=user_headers)
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]

    async with connect(ws_url(live_url, run_id, token_of(user_headers))) as ws:
        snapshot = await recv(ws)
        assert snapshot["type"] == "snapshot" and snapshot["run_id"] == run_id
        assert snapshot["status"] in ("queued", "running")
        assert {n["node_id"] for n in snapshot["nodes"]} <= {"start", "draft"}
        if "draft" not in {n["node_id"] for n in snapshot["nodes"]}:
            await recv_until(ws, "node_started", "draft")
        # Pause while the draft runs: it finishes, nothing else starts.
        paused = await client.post(f"{EXEC}/{run_id}/pause", headers=user_headers)
        assert paused.status_code == 200, paused.text
        assert paused.json()["pause_requested"] is True
        first = await recv_until(ws, "run_paused")
        assert ("node_succeeded", "draft") in node_events(first)
        assert first[-1]["pending"] == []
        assert all(n != "check" for _, n in node_events(first))
        assert (await client.get(f"{EXEC}/{run_id}", headers=user_headers)).json()[
            "status"
        ] == "paused"

        resumed = await client.post(f"{EXEC}/{run_id}/resume", json={}, headers=user_headers)
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["pause_requested"] is False
        second = await recv_until(ws, "run_paused")
        assert second[0]["type"] == "run_resumed"
        assert node_events(second) == [
            ("node_started", "check"),
            ("node_succeeded", "check"),
            ("node_skipped", "short"),
            ("node_started", "lines"),
            ("node_succeeded", "lines"),
            ("node_started", "review"),
            ("node_waiting", "review"),
        ]
        assert second[-1]["pending"][0]["node_id"] == "review"
        loop = next(f for f in second if f["type"] == "node_succeeded" and f["node_id"] == "lines")
        assert loop["outputs"]["count"] == 2

        pending = (await client.get("/api/v1/approval/pending", headers=user_headers)).json()
        [approval] = pending["items"]
        assert approval["run_id"] == run_id and approval["title"] == "Publish?"
        decided = await client.post(
            f"/api/v1/approval/{approval['approval_id']}/decide",
            json={"approved": True, "comment": "go"},
            headers=user_headers,
        )
        assert decided.status_code == 200, decided.text
        third = await recv_until(ws, "run_finished")
        assert node_events(third) == [
            ("node_succeeded", "review"),
            ("node_started", "count"),
            ("node_succeeded", "count"),
            ("node_started", "end"),
            ("node_succeeded", "end"),
        ]
        assert third[-1]["outputs"] == {"n": len("a long enough draft")}
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1000
    assert len(fake_llm.requests) == 1


async def test_websocket_of_an_ended_run_sends_the_snapshot_and_closes(
    client: httpx.AsyncClient, live_url: str, user_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, approval_graph())
    run = (
        await client.post(f"/api/v1/workflows/{wf['id']}/execute", json={}, headers=user_headers)
    ).json()
    assert (
        await client.post(f"{EXEC}/{run['id']}/cancel", headers=user_headers)
    ).status_code == 200
    headers = {"Authorization": user_headers["Authorization"]}
    async with connect(ws_url(live_url, run["id"]), additional_headers=headers) as ws:
        snapshot = await recv(ws)
        assert snapshot["status"] == "cancelled"
        assert [n["node_id"] for n in snapshot["nodes"] if n["status"] == "waiting"] == ["ask"]
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1000


async def test_websocket_closes_when_a_paused_run_is_cancelled(
    client: httpx.AsyncClient, live_url: str, user_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, approval_graph())
    run = (
        await client.post(f"/api/v1/workflows/{wf['id']}/execute", json={}, headers=user_headers)
    ).json()
    assert run["status"] == "paused"
    async with connect(ws_url(live_url, run["id"], token_of(user_headers))) as ws:
        assert (await recv(ws))["status"] == "paused"
        await client.post(f"{EXEC}/{run['id']}/cancel", headers=user_headers)
        assert (await recv(ws))["type"] == "run_cancelled"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1000


async def test_websocket_auth_and_ownership_close_codes(
    client: httpx.AsyncClient,
    live_url: str,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    wf = await create(client, user_headers, approval_graph())
    run = (
        await client.post(f"/api/v1/workflows/{wf['id']}/execute", json={}, headers=user_headers)
    ).json()
    cases = [
        (ws_url(live_url, run["id"]), 4401),
        (ws_url(live_url, run["id"], "not-a-jwt"), 4401),
        (ws_url(live_url, run["id"], token_of(other_headers)), 4404),
        (ws_url(live_url, str(uuid.uuid4()), token_of(user_headers)), 4404),
    ]
    for url, code in cases:
        async with connect(url) as ws:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code == code, url


@pytest.mark.skipif(not backends.USE_REDIS, reason="cross-process delivery needs Redis")
async def test_events_published_by_another_process_reach_the_socket(
    client: httpx.AsyncClient, live_url: str, user_headers: dict[str, str]
) -> None:
    """A worker elsewhere runs the run: here it is a second bus instance with its own
    connections, publishing on the run's channel."""
    wf = await create(client, user_headers, approval_graph())
    run = (
        await client.post(f"/api/v1/workflows/{wf['id']}/execute", json={}, headers=user_headers)
    ).json()
    settings = get_settings()
    assert settings.redis_url
    worker = RedisBus(settings.redis_url, settings.cache_prefix)
    try:
        async with connect(ws_url(live_url, run["id"], token_of(user_headers))) as ws:
            assert (await recv(ws))["type"] == "snapshot"
            event = {"type": "node_started", "node_id": "elsewhere", "node_type": "llm"}
            await worker.publish(runner.channel(run["id"]), {"run_id": run["id"], **event})
            got = await recv(ws)
            assert got["node_id"] == "elsewhere"
            await worker.publish(runner.channel(run["id"]), {"type": "run_finished"})
            assert (await recv(ws))["type"] == "run_finished"
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1000
    finally:
        await worker.close()


async def test_sse_streams_the_same_frames(
    client: httpx.AsyncClient,
    live_url: str,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    wf = await create(client, user_headers, approval_graph())
    run = (
        await client.post(f"/api/v1/workflows/{wf['id']}/execute", json={}, headers=user_headers)
    ).json()
    [pending] = run["pending_approvals"]
    url = f"{live_url}{EXEC}/{run['id']}/events"
    async with httpx.AsyncClient(timeout=20) as http:
        async with http.stream("GET", url, headers=user_headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            text = ""
            lines = response.aiter_text()
            text += await anext(lines)
            assert "event: snapshot" in text
            decided = await client.post(
                f"/api/v1/approval/{pending['approval_id']}/decide",
                json={"approved": False},
                headers=user_headers,
            )
            assert decided.status_code == 200, decided.text
            async for chunk in lines:
                text += chunk
        events = parse_sse(text)
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "snapshot" and kinds[-1] == "run_finished"
        assert ("node_succeeded", "ask") in [(k, d["node_id"]) for k, d in events if "node_id" in d]
        assert events[-1][1]["outputs"] == {"result": "rejected"}
        # Ended: snapshot only; ?token= works too.
        token = token_of(user_headers)
        ended = await http.get(url, params={"token": token})
        assert [k for k, _ in parse_sse(ended.text)] == ["snapshot"]
        assert (await http.get(url)).status_code == 401
        assert (await http.get(url, headers=other_headers)).json()["error"] == (
            "WORKFLOW_RUN_NOT_FOUND"
        )
        missing = await http.get(f"{live_url}{EXEC}/{uuid.uuid4()}/events", headers=user_headers)
        assert missing.status_code == 404
    await wait_for(client, user_headers, run["id"], "succeeded")


async def test_create_execution_in_the_body_and_pause_errors(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    wf = await create(client, user_headers, approval_graph())
    response = await client.post(
        EXEC, json={"workflow_id": wf["id"], "mode": "sync"}, headers=user_headers
    )
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "paused" and run["workflow_id"] == wf["id"]
    replay = {"workflow_id": wf["id"], "mode": "async", "idempotency_key": "once"}
    first = await client.post(EXEC, json=replay, headers=user_headers)
    assert first.status_code == 202
    assert (await client.post(EXEC, json=replay, headers=user_headers)).json()["id"] == (
        first.json()["id"]
    )
    await wait_for(client, user_headers, first.json()["id"], "paused")
    for body in [{}, {"workflow_id": wf["id"], "mode": "later"}, {"workflow_id": "x" * 37}]:
        response = await client.post(EXEC, json=body, headers=user_headers)
        assert response.status_code == 422, body
        assert response.json()["error"] == "VALIDATION_ERROR"
    assert (await client.post(EXEC, json={"workflow_id": wf["id"]})).status_code == 401
    response = await client.post(EXEC, json={"workflow_id": wf["id"]}, headers=other_headers)
    assert response.status_code == 404 and response.json()["error"] == "WORKFLOW_NOT_FOUND"

    # A paused (waiting) run, and an ended one, cannot be paused.
    response = await client.post(f"{EXEC}/{run['id']}/pause", headers=user_headers)
    assert response.status_code == 409 and response.json()["error"] == "RUN_NOT_ACTIVE"
    await client.post(f"{EXEC}/{run['id']}/cancel", headers=user_headers)
    response = await client.post(f"{EXEC}/{run['id']}/pause", headers=user_headers)
    assert response.status_code == 409
    assert (await client.post(f"{EXEC}/{run['id']}/pause")).status_code == 401
    response = await client.post(f"{EXEC}/{run['id']}/pause", headers=other_headers)
    assert response.status_code == 404
    response = await client.post(
        f"{EXEC}/{run['id']}/pause", params={"wait_s": -1}, headers=user_headers
    )
    assert response.status_code == 422


async def test_a_pause_asked_from_another_process_is_seen_at_the_next_heartbeat(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "workflow_heartbeat_s", 0.1)
    fake_llm.script([{"content": "a long enough draft", "first_token_delay_ms": 1500}])
    wf = await create(client, user_headers, review_graph())
    body = {"workflow_id": wf["id"], "inputs": {"topic": "cats"}, "mode": "async"}
    run_id = (await client.post(EXEC, json=body, headers=user_headers)).json()["id"]
    for _ in range(100):  # the draft is under way (the runner has read its row)
        run = (await client.get(f"{EXEC}/{run_id}", headers=user_headers)).json()
        if any(n["node_id"] == "draft" for n in run["nodes"]):
            break
        await asyncio.sleep(0.02)
    # The API process that took the request has no handle on the task: only the row says so.
    async with session_factory()() as session:
        await session.execute(
            update(WorkflowRun).where(WorkflowRun.id == run_id).values(pause_requested=True)
        )
        await session.commit()
    done = await wait_for(client, user_headers, run_id, "paused", "succeeded", "failed")
    assert done["status"] == "paused" and done["pending_approvals"] == []
    assert {n["node_id"] for n in done["nodes"]} == {"start", "draft"}
