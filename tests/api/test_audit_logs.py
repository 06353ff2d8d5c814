"""The audit trail: authenticated mutating requests are recorded (never bodies, never reads,
never anonymous calls) through a buffer flushed in batches; the list's filters, scope and
stats; streamed responses still stream through the middleware."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx

from tiangong.db.base import utcnow
from tiangong.notices.audit import recorder
from tiangong.notices.audit.middleware import describe

API = "/api/v1/audit-logs"
RULE = {"name": "r", "metric": "llm_calls", "threshold": 10}
SECRET = "sk-very-secret-0123456789"


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.get("/api/v1/auth/me", headers=headers)).json()["id"])


async def entries(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    await recorder.flush()
    response = await client.get(API, params={"page_size": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_paths_name_the_resource_and_the_action() -> None:
    uid = "0b0c8a6e-7c1e-4c55-9d6e-4f1e7f0a1b2c"
    one = "/agents/{agent_id}"  # route templates are relative to their router's prefix
    assert describe("POST", "/api/v1/agents", "/agents") == ("create", "agents", None)
    assert describe("PUT", "/api/v1/agents/mine", one) == ("update", "agents", "mine")
    assert describe("DELETE", f"/api/v1/agents/{uid}", one) == ("delete", "agents", uid)
    publish = f"/api/v1/agents/{uid}/publish"
    assert describe("POST", publish, one + "/publish") == ("publish", "agents", uid)
    read_all = "/api/v1/notifications/read-all"
    assert describe("PUT", read_all, "/notifications/read-all") == (
        "read-all",
        "notifications",
        None,
    )
    ack = "/alert-rules/logs/{log_id}/acknowledge"
    assert describe("POST", "/api/v1/alert-rules/logs/l1/acknowledge", ack) == (
        "acknowledge",
        "alert-rules",
        "l1",
    )
    # No route matched: ids are recognised by their shape.
    assert describe("DELETE", f"/api/v1/nothing/{uid}/x") == ("delete", "nothing", uid)
    assert describe("POST", "/api/v1/nothing/17") == ("create", "nothing", "17")


async def test_mutations_are_recorded_without_bodies_and_reads_are_not(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    alice = await user_id(client, user_headers)
    created = await client.post(
        "/api/v1/alert-rules", json=RULE, headers={**user_headers, "X-Request-ID": "req-123"}
    )
    rule_id = created.json()["id"]
    await client.put(
        f"/api/v1/alert-rules/{rule_id}", json={"name": "renamed"}, headers=user_headers
    )
    await client.post(f"/api/v1/alert-rules/{rule_id}/evaluate", headers=user_headers)
    await client.put("/api/v1/alert-rules/missing", json={"name": "x"}, headers=user_headers)
    await client.post("/api/v1/alert-rules", json={"name": ""}, headers=user_headers)
    # A secret in a body never reaches the trail.
    await client.post(
        "/api/v1/model-configs",
        json={
            "name": "c",
            "base_url": "https://api.example.com/v1",
            "model_name": "m",
            "api_key": SECRET,
        },
        headers=user_headers,
    )
    await client.delete(f"/api/v1/alert-rules/{rule_id}", headers=user_headers)
    # Not recorded: reads, anonymous calls, bad tokens.
    await client.get("/api/v1/alert-rules", headers=user_headers)
    await client.post("/api/v1/alert-rules", json=RULE)
    await client.post("/api/v1/alert-rules", json=RULE, headers={"Authorization": "Bearer junk"})

    found = await entries(client, user_headers)
    assert SECRET not in json.dumps(found)
    got = [(e["method"], e["action"], e["status_code"]) for e in reversed(found["items"])]
    assert got == [
        ("POST", "create", 201),
        ("PUT", "update", 200),
        ("POST", "evaluate", 200),
        ("PUT", "update", 404),
        ("POST", "create", 422),
        ("POST", "create", 201),
        ("DELETE", "delete", 204),
    ]
    first = found["items"][-1]
    assert first["user_id"] == alice and first["resource_type"] == "alert-rules"
    assert first["path"] == "/api/v1/alert-rules" and first["request_id"] == "req-123"
    assert first["duration_ms"] > 0 and first["ip"]
    assert found["items"][0]["resource_id"] == rule_id and found["scope"] == "own"

    # Filters.
    only_deletes = await entries(client, user_headers, action="delete")
    assert [e["method"] for e in only_deletes["items"]] == ["DELETE"]
    puts = await entries(client, user_headers, method="PUT")
    assert puts["total"] == 2
    configs = await entries(client, user_headers, resource_type="model-configs")
    assert configs["total"] == 1
    one_rule = await entries(client, user_headers, resource_id=rule_id)
    assert one_rule["total"] == 3  # the update, the evaluation and the delete
    future = (utcnow() + timedelta(minutes=1)).isoformat()
    assert (await entries(client, user_headers, since=future))["total"] == 0
    assert (await entries(client, user_headers, until=future))["total"] == 7
    paged = await entries(client, user_headers, page_size=3, page=3)
    assert len(paged["items"]) == 1 and paged["total"] == 7


async def test_scope_admin_sees_all_and_stats(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    alice = await user_id(client, user_headers)
    bob = await user_id(client, other_headers)
    await client.post("/api/v1/alert-rules", json=RULE, headers=user_headers)
    await client.post("/api/v1/alert-rules", json=RULE, headers=user_headers)
    await client.post("/api/v1/alert-rules", json=RULE, headers=other_headers)
    await client.put("/api/v1/notifications/read-all", headers=other_headers)

    assert (await entries(client, user_headers))["total"] == 2
    assert (await entries(client, other_headers))["total"] == 2
    forbidden = await client.get(API, params={"scope": "all"}, headers=user_headers)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "ADMIN_REQUIRED"
    everyone = await entries(client, admin_headers, scope="all")
    users = {e["user_id"] for e in everyone["items"]}
    assert {alice, bob} <= users and everyone["scope"] == "all"
    only_bob = await entries(client, admin_headers, scope="all", user_id=bob)
    assert only_bob["total"] == 2
    # A user filter never widens the caller's own scope.
    assert (await entries(client, user_headers, user_id=bob))["total"] == 0

    stats = await client.get(f"{API}/stats", headers=other_headers)
    assert stats.status_code == 200
    body = stats.json()
    assert body["total"] == 2 and body["failed"] == 0 and body["days"] == 7
    assert {c["key"]: c["count"] for c in body["by_action"]} == {"create": 1, "read-all": 1}
    assert {c["key"]: c["count"] for c in body["by_resource_type"]} == {
        "alert-rules": 1,
        "notifications": 1,
    }
    assert {c["key"]: c["count"] for c in body["by_method"]} == {"POST": 1, "PUT": 1}
    assert len(body["by_day"]) == 7 and body["by_day"][-1] == {
        "key": utcnow().date().isoformat(),
        "count": 2,
    }
    all_stats = (
        await client.get(f"{API}/stats", params={"scope": "all", "days": 1}, headers=admin_headers)
    ).json()
    assert all_stats["total"] >= 4 and len(all_stats["by_day"]) == 1


async def test_junk_paths_are_stored_cleanly(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.put("/api/v1/notifications/%00%F0/read", headers=user_headers)
    assert response.status_code in (400, 404)
    await client.delete("/api/v1/notifications/" + "x" * 900, headers=user_headers)
    found = await entries(client, user_headers)
    assert found["total"] == 2
    assert all("\x00" not in e["path"] and len(e["path"]) <= 500 for e in found["items"])


async def test_bad_input_and_no_token(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for params in (
        {"page": 0},
        {"page_size": 101},
        {"method": "GET"},
        {"since": "yesterday"},
        {"scope": "everyone"},
        {"action": "a" * 65},
    ):
        response = await client.get(API, params=params, headers=user_headers)
        assert response.status_code == 422 and response.json()["error"] == "VALIDATION_ERROR"
    bad_days = await client.get(f"{API}/stats", params={"days": 0}, headers=user_headers)
    assert bad_days.status_code == 422
    for path in (API, f"{API}/stats"):
        assert (await client.get(path)).status_code == 401


async def test_streamed_answers_still_stream_and_are_recorded(
    live_url: str,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "abcdefgh", "chunk_size": 1, "delay_ms": 150}])
    started = time.perf_counter()
    first_token = None
    async with httpx.AsyncClient(base_url=live_url, timeout=20) as http:
        async with http.stream(
            "POST", "/api/v1/agent-chat/bare/stream", json={"message": "go"}, headers=user_headers
        ) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("event: token") and first_token is None:
                    first_token = time.perf_counter() - started
    total = time.perf_counter() - started
    # The first token arrives long before the answer ends: nothing buffered the stream.
    assert first_token is not None and first_token < total - 0.5
    found = await entries(client, user_headers, resource_type="agent-chat")
    assert found["total"] == 1
    entry = found["items"][0]
    assert entry["status_code"] == 200 and entry["duration_ms"] >= 500
