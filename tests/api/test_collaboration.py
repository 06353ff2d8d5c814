"""Live collaboration over a real WebSocket: presence join/leave, relayed cursors and edit
operations, authentication and visibility enforced with close code 1008, size limits, the
online-users list (kept in the cache with expiry), and frames from another process's bus."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests import backends
from tests.api.test_route_sweep import noop_graph
from tests.api.test_workflows import create as create_workflow
from tiangong.bus.redis import RedisBus
from tiangong.cache import get_cache
from tiangong.config import get_settings
from tiangong.permissions import collaboration, presence

Headers = dict[str, str]


def token_of(headers: Headers) -> str:
    return headers["Authorization"].split(" ", 1)[1]


def ws_url(live_url: str, kind: str, rid: str, token: str | None = None) -> str:
    url = live_url.replace("http://", "ws://") + f"/api/v1/collaboration/ws/{kind}/{rid}"
    return f"{url}?token={token}" if token else url


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return ws.close_code, ws.close_reason


async def _agent(client: httpx.AsyncClient, headers: Headers) -> str:
    response = await client.post("/api/v1/agents", json={"name": "a"}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _share(client: httpx.AsyncClient, headers: Headers, agent_id: str, level: str) -> str:
    body = {
        "resource_type": "agent",
        "resource_id": agent_id,
        "email": "bob@example.com",
        "permission": level,
    }
    response = await client.post("/api/v1/permissions/grants", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _online(client: httpx.AsyncClient, headers: Headers, agent_id: str) -> list[str]:
    response = await client.get(f"/api/v1/collaboration/agent/{agent_id}/users", headers=headers)
    assert response.status_code == 200, response.text
    return [u["nickname"] for u in response.json()["users"]]


async def test_editors_see_each_other_join_move_edit_and_leave(
    client: httpx.AsyncClient, live_url: str, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    await _share(client, user_headers, agent_id, "edit")
    async with connect(ws_url(live_url, "agent", agent_id, token_of(user_headers))) as alice:
        welcome = await recv(alice)
        assert welcome["type"] == "welcome" and welcome["access"] == "owner"
        assert [u["nickname"] for u in welcome["users"]] == ["alice"]
        async with connect(ws_url(live_url, "agent", agent_id, token_of(other_headers))) as bob:
            bob_welcome = await recv(bob)
            assert bob_welcome["access"] == "edit"
            assert [u["nickname"] for u in bob_welcome["users"]] == ["alice", "bob"]
            joined = await recv(alice)
            assert joined["type"] == "join" and joined["from"]["nickname"] == "bob"
            assert await _online(client, user_headers, agent_id) == ["alice", "bob"]

            await alice.send(json.dumps({"type": "cursor", "data": {"field": "name", "pos": 3}}))
            cursor = await recv(bob)
            assert cursor["type"] == "cursor" and cursor["data"] == {"field": "name", "pos": 3}
            assert cursor["from"]["user_id"] == welcome["users"][0]["user_id"]
            op = {"type": "operation", "data": {"op": "set", "path": "name", "value": "b"}}
            await bob.send(json.dumps(op))
            got = await recv(alice)
            assert got["type"] == "operation" and got["data"]["value"] == "b"
            # Nobody gets their own frames back: the next thing Alice sees is her pong.
            await alice.send(json.dumps({"type": "ping"}))
            assert (await recv(alice))["type"] == "pong"
        left = await recv(alice)
        assert left["type"] == "leave" and left["from"]["nickname"] == "bob"
        assert await _online(client, user_headers, agent_id) == ["alice"]
    for _ in range(50):
        if not await _online(client, user_headers, agent_id):
            break
        await asyncio.sleep(0.05)
    assert await _online(client, user_headers, agent_id) == []


async def test_a_viewer_moves_but_cannot_send_edits(
    client: httpx.AsyncClient, live_url: str, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    await _share(client, user_headers, agent_id, "view")
    async with connect(ws_url(live_url, "agent", agent_id, token_of(other_headers))) as bob:
        assert (await recv(bob))["access"] == "view"
        await bob.send(json.dumps({"type": "operation", "data": {"op": "set"}}))
        error = await recv(bob)
        assert error == {
            "type": "error",
            "error": "READ_ONLY",
            "message": "a view grant cannot send edit operations",
        }


async def test_token_may_come_as_the_first_frame(
    client: httpx.AsyncClient, live_url: str, user_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    async with connect(ws_url(live_url, "agent", agent_id)) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token_of(user_headers)}))
        assert (await recv(ws))["type"] == "welcome"


async def test_unauthenticated_or_invisible_connections_are_closed_with_1008(
    client: httpx.AsyncClient, live_url: str, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    cases = [
        (ws_url(live_url, "agent", agent_id, "not-a-jwt"), None, "INVALID_TOKEN"),
        (ws_url(live_url, "agent", agent_id), {"type": "cursor", "data": {}}, "NOT_AUTHENTICATED"),
        (ws_url(live_url, "agent", agent_id, token_of(other_headers)), None, "AGENT_NOT_FOUND"),
        (ws_url(live_url, "agent", "missing", token_of(user_headers)), None, "AGENT_NOT_FOUND"),
        (ws_url(live_url, "tool", agent_id, token_of(user_headers)), None, "UNSUPPORTED_RESOURCE"),
    ]
    for url, first, reason in cases:
        async with connect(url) as ws:
            if first is not None:
                await ws.send(json.dumps(first))
            assert await closed_with(ws) == (1008, reason), url


async def test_bad_frames_get_errors_and_oversized_frames_close_the_socket(
    client: httpx.AsyncClient, live_url: str, user_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    async with connect(ws_url(live_url, "agent", agent_id, token_of(user_headers))) as ws:
        await recv(ws)
        for frame in ("{", "[]", '{"type": "teleport"}', '{"type": "cursor", "data": 5}'):
            await ws.send(frame)
            reply = await recv(ws)
            assert reply["type"] == "error" and reply["error"] == "INVALID_MESSAGE", frame
        await ws.send(b"\x00binary")
        assert (await recv(ws))["error"] == "INVALID_MESSAGE"
        big = {"type": "cursor", "data": {"x": "y" * collaboration.MAX_MESSAGE_BYTES}}
        await ws.send(json.dumps(big))
        assert await closed_with(ws) == (1009, "MESSAGE_TOO_BIG")


async def test_revoking_the_grant_closes_the_socket(
    client: httpx.AsyncClient,
    live_url: str,
    user_headers: Headers,
    other_headers: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(presence, "HEARTBEAT_S", 0.2)
    agent_id = await _agent(client, user_headers)
    grant_id = await _share(client, user_headers, agent_id, "view")
    async with connect(ws_url(live_url, "agent", agent_id, token_of(other_headers))) as bob:
        await recv(bob)
        gone = await client.delete(f"/api/v1/permissions/grants/{grant_id}", headers=user_headers)
        assert gone.status_code == 204
        assert await closed_with(bob) == (1008, "ACCESS_REVOKED")


async def test_online_users_expire_when_their_process_stops_heartbeating(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    now = time.time()
    entry = {"user_id": "u1", "nickname": "ghost", "access": "edit", "joined_at": now - 60}
    # Two connections of other processes: one still heartbeating, one that crashed.
    await get_cache().hset(
        f"collab:presence:agent:{agent_id}",
        {
            "live": json.dumps({**entry, "last_seen": now, "expires_at": now + 20}),
            "dead": json.dumps(
                {**entry, "nickname": "gone", "user_id": "u2", "last_seen": now - 40}
                | {"expires_at": now - 10}
            ),
        },
        ttl=30,
    )
    response = await client.get(
        f"/api/v1/collaboration/agent/{agent_id}/users", headers=user_headers
    )
    assert response.json()["total"] == 1
    [user] = response.json()["users"]
    assert user["nickname"] == "ghost" and user["connections"] == 1


async def test_online_users_needs_access_and_valid_input(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    url = f"/api/v1/collaboration/agent/{agent_id}/users"
    assert (await client.get(url)).status_code == 401
    hidden = await client.get(url, headers=other_headers)
    assert hidden.status_code == 404 and hidden.json()["error"] == "AGENT_NOT_FOUND"
    bad = await client.get(f"/api/v1/collaboration/tool/{agent_id}/users", headers=user_headers)
    assert bad.status_code == 422 and bad.json()["error"] == "VALIDATION_ERROR"
    await _share(client, user_headers, agent_id, "view")
    assert (await client.get(url, headers=other_headers)).status_code == 200


async def test_workflows_have_sessions_too(
    client: httpx.AsyncClient, live_url: str, user_headers: Headers
) -> None:
    wf_id = (await create_workflow(client, user_headers, noop_graph()))["id"]
    async with connect(ws_url(live_url, "workflow", wf_id, token_of(user_headers))) as ws:
        assert (await recv(ws))["type"] == "welcome"
        users = await client.get(
            f"/api/v1/collaboration/workflow/{wf_id}/users", headers=user_headers
        )
        assert [u["nickname"] for u in users.json()["users"]] == ["alice"]


@pytest.mark.skipif(not backends.USE_REDIS, reason="cross-process delivery needs Redis")
async def test_frames_from_another_process_reach_the_socket(
    client: httpx.AsyncClient, live_url: str, user_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    settings = get_settings()
    assert settings.redis_url
    elsewhere = RedisBus(settings.redis_url, settings.cache_prefix)
    try:
        async with connect(ws_url(live_url, "agent", agent_id, token_of(user_headers))) as ws:
            await recv(ws)
            frame = {
                "type": "cursor",
                "from": {"connection_id": "x", "nickname": "far"},
                "data": {},
            }
            await elsewhere.publish(collaboration.channel("agent", agent_id), frame)
            assert (await recv(ws))["from"]["nickname"] == "far"
    finally:
        await elsewhere.close()
