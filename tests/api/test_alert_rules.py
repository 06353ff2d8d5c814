"""Alert rules: CRUD with validation, evaluation over real rows (LLM call logs, workflow runs,
a chat through the fake LLM), firing with a notification, cooldown, acknowledge, resolve, the
periodic loop's once-per-slot claim, and owner scoping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api.asserts import assert_error
from tests.api.test_execution_logs import add_run, diamond
from tests.api.test_workflows import create as create_workflow
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.llm_logs.models import LLMCallLog
from tiangong.llm_logs.recorder import flush as flush_llm_logs
from tiangong.notices.alerts import loop

API = "/api/v1/alert-rules"
RULE: dict[str, Any] = {
    "name": "LLM errors",
    "metric": "llm_error_rate",
    "comparator": "gt",
    "threshold": 50,
    "window_minutes": 60,
    "cooldown_minutes": 30,
}


@pytest.fixture(autouse=True)
async def no_background_ticks(app: Any) -> Any:
    """The app's own loop would evaluate the tests' rules at moments of its choosing; the tests
    call `loop.tick` themselves."""
    await loop.stop()
    yield
    loop.start()


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.get("/api/v1/auth/me", headers=headers)).json()["id"])


async def add_calls(owner: str, outcomes: list[str], **values: Any) -> None:
    async with session_factory()() as session:
        session.add_all(
            LLMCallLog(
                user_id=owner,
                model="m",
                outcome=outcome,
                latency_ms=values.get("latency_ms", 10),
                error_code="LLM_UPSTREAM_ERROR" if outcome == "error" else None,
            )
            for outcome in outcomes
        )
        await session.commit()


async def create(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> Any:
    response = await client.post(API, json={**RULE, **overrides}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def evaluate(client: httpx.AsyncClient, headers: dict[str, str], rule_id: str) -> Any:
    response = await client.post(f"{API}/{rule_id}/evaluate", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_crud_filters_and_validation(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    rule = await create(client, user_headers)
    assert rule["enabled"] is True and rule["severity"] == "warning"
    assert rule["last_evaluated_at"] is None and rule["last_value"] is None
    await create(client, user_headers, name="busy", metric="llm_calls", threshold=1000)
    await create(client, user_headers, name="off", metric="llm_tokens", threshold=1, enabled=False)

    listed = (await client.get(API, params={"page_size": 2}, headers=user_headers)).json()
    assert listed["total"] == 3 and len(listed["items"]) == 2
    off = (await client.get(API, params={"enabled": "false"}, headers=user_headers)).json()
    assert [r["name"] for r in off["items"]] == ["off"]
    calls = (await client.get(API, params={"metric": "llm_calls"}, headers=user_headers)).json()
    assert [r["name"] for r in calls["items"]] == ["busy"]

    got = await client.get(f"{API}/{rule['id']}", headers=user_headers)
    assert got.status_code == 200 and got.json() == rule
    updated = await client.put(
        f"{API}/{rule['id']}", json={"threshold": 20, "severity": "critical"}, headers=user_headers
    )
    assert updated.status_code == 200
    assert updated.json()["threshold"] == 20 and updated.json()["severity"] == "critical"
    assert updated.json()["name"] == "LLM errors"

    # A rate is a percentage; the pair is checked after a partial update too.
    assert_error(
        await client.put(f"{API}/{rule['id']}", json={"threshold": 150}, headers=user_headers),
        422,
        "ALERT_THRESHOLD_INVALID",
    )
    busy = calls["items"][0]["id"]
    assert_error(
        await client.put(f"{API}/{busy}", json={"metric": "llm_error_rate"}, headers=user_headers),
        422,
        "ALERT_THRESHOLD_INVALID",
    )
    for bad in (
        {"threshold": 150},
        {"metric": "cpu"},
        {"comparator": "between"},
        {"window_minutes": 0},
        {"cooldown_minutes": -1},
        {"name": ""},
        {"name": "n" * 101},
        {"unknown": 1},
    ):
        response = await client.post(API, json={**RULE, **bad}, headers=user_headers)
        assert_error(response, 422, "VALIDATION_ERROR")
    infinite = await client.post(
        API,
        content=b'{"name": "x", "metric": "llm_calls", "threshold": 1e309}',
        headers={**user_headers, "Content-Type": "application/json"},
    )
    assert infinite.status_code == 422
    for params in ({"metric": "cpu"}, {"page_size": 0}):
        assert_error(
            await client.get(API, params=params, headers=user_headers), 422, "VALIDATION_ERROR"
        )

    assert (await client.delete(f"{API}/{rule['id']}", headers=user_headers)).status_code == 204
    assert_error(
        await client.get(f"{API}/{rule['id']}", headers=user_headers), 404, "ALERT_RULE_NOT_FOUND"
    )


async def test_fire_notify_cooldown_acknowledge_and_resolve(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    alice = await user_id(client, user_headers)
    bob = await user_id(client, other_headers)
    rule = await create(client, user_headers)

    nothing = await evaluate(client, user_headers, rule["id"])
    assert nothing["outcome"] == "no_data" and nothing["value"] is None and not nothing["alert"]

    await add_calls(alice, ["error", "error", "error", "ok"])
    await add_calls(bob, ["ok"] * 20)  # Bob's calls are not Alice's rule's business
    fired = await evaluate(client, user_headers, rule["id"])
    assert fired["outcome"] == "fired" and fired["condition_met"] is True
    assert fired["value"] == 75.0
    alert = fired["alert"]
    assert (
        alert["state"] == "firing" and alert["value"] == 75.0 and alert["rule_name"] == "LLM errors"
    )
    assert "llm_error_rate = 75 > 50" in alert["message"]

    notes = (await client.get("/api/v1/notifications", headers=user_headers)).json()
    assert notes["total"] == 1
    note = notes["items"][0]
    assert note["kind"] == "alert" and note["resource_id"] == alert["id"]
    assert "LLM errors" in note["title"]
    assert (await client.get("/api/v1/notifications", headers=other_headers)).json()["total"] == 0

    # Still true, but inside the cooldown: no second alert.
    again = await evaluate(client, user_headers, rule["id"])
    assert again["outcome"] == "cooldown" and again["alert"] is None
    logs = (await client.get(f"{API}/logs", headers=user_headers)).json()
    assert logs["total"] == 1

    ack = await client.post(f"{API}/logs/{alert['id']}/acknowledge", headers=user_headers)
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
    assert ack.json()["acknowledged_at"]
    assert_error(
        await client.post(f"{API}/logs/{alert['id']}/acknowledge", headers=user_headers),
        409,
        "ALERT_NOT_FIRING",
    )

    # The error rate falls under the threshold: open alerts are resolved.
    await add_calls(alice, ["ok"] * 4)
    calm = await evaluate(client, user_headers, rule["id"])
    assert calm["outcome"] == "not_met" and calm["value"] == 37.5 and calm["resolved"] == 1
    resolved = (
        await client.get(f"{API}/logs", params={"state": "resolved"}, headers=user_headers)
    ).json()
    assert resolved["total"] == 1 and resolved["items"][0]["resolved_at"]
    assert_error(
        await client.post(f"{API}/logs/{alert['id']}/acknowledge", headers=user_headers),
        409,
        "ALERT_NOT_FIRING",
    )
    got = (await client.get(f"{API}/{rule['id']}", headers=user_headers)).json()
    assert got["last_value"] == 37.5 and got["last_fired_at"] and got["last_evaluated_at"]


async def test_metrics_from_workflow_runs_chat_and_latency(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    alice = await user_id(client, user_headers)
    wf = await create_workflow(client, user_headers, diamond(), name="nightly")
    await add_run(wf, status="succeeded")
    await add_run(wf, status="failed", error={"code": "NODE_FAILED", "message": "boom"})
    await add_run(wf, status="failed", created_at=utcnow() - timedelta(hours=5))  # out of window
    await add_run(wf, status="cancelled")
    rate = await create(
        client, user_headers, metric="workflow_failure_rate", threshold=40, cooldown_minutes=0
    )
    result = await evaluate(client, user_headers, rate["id"])
    assert result["value"] == 50.0 and result["outcome"] == "fired"
    failures = await create(
        client, user_headers, metric="workflow_failures", comparator="gte", threshold=1
    )
    assert (await evaluate(client, user_headers, failures["id"]))["value"] == 1.0
    wide = await create(
        client, user_headers, metric="workflow_failures", threshold=1, window_minutes=600
    )
    assert (await evaluate(client, user_headers, wide["id"]))["outcome"] == "fired"

    # A real call through the fake LLM counts as a call and its tokens.
    fake_llm.script([{"content": "hi", "usage": {"prompt_tokens": 7, "completion_tokens": 3}}])
    chat = await client.post(
        "/api/v1/agent-chat/bare", json={"message": "hi"}, headers=user_headers
    )
    assert chat.status_code == 200, chat.text
    await flush_llm_logs()
    calls = await create(client, user_headers, metric="llm_calls", comparator="gte", threshold=1)
    assert (await evaluate(client, user_headers, calls["id"]))["value"] == 1.0
    tokens = await create(client, user_headers, metric="llm_tokens", comparator="lt", threshold=5)
    outcome = await evaluate(client, user_headers, tokens["id"])
    assert outcome["value"] == 10.0 and outcome["outcome"] == "not_met"

    for latency in range(1, 21):
        await add_calls(alice, ["ok"], latency_ms=latency * 100)
    p95 = await create(client, user_headers, metric="llm_latency_p95_ms", threshold=1500)
    measured = await evaluate(client, user_headers, p95["id"])
    assert measured["value"] == 1900.0 and measured["outcome"] == "fired"

    # A rule fires once per evaluation when its cooldown is 0.
    second = await evaluate(client, user_headers, rate["id"])
    assert second["outcome"] == "fired"
    logs = (
        await client.get(f"{API}/logs", params={"rule_id": rate["id"]}, headers=user_headers)
    ).json()
    assert logs["total"] == 2


async def test_periodic_loop_evaluates_enabled_rules_once_per_slot(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    alice = await user_id(client, user_headers)
    await add_calls(alice, ["error"])
    on = await create(client, user_headers, cooldown_minutes=0)
    off = await create(client, user_headers, name="off", enabled=False)
    now = utcnow() + timedelta(seconds=1)

    assert await loop.tick(now) == 1
    # Claimed: the same slot is not evaluated again, however many processes tick.
    assert await loop.tick(now) == 0
    logs = (await client.get(f"{API}/logs", headers=user_headers)).json()
    assert [log["rule_id"] for log in logs["items"]] == [on["id"]]
    assert (
        await client.get("/api/v1/notifications/unread-count", headers=user_headers)
    ).json() == {"unread": 1}
    later = now + loop.EVALUATE_EVERY + timedelta(seconds=1)
    assert await loop.tick(later) == 1
    assert (await client.get(f"{API}/logs", headers=user_headers)).json()["total"] == 2

    # Enabling a rule makes it due at once.
    enabled = await client.put(f"{API}/{off['id']}", json={"enabled": True}, headers=user_headers)
    assert enabled.status_code == 200
    assert await loop.tick(later + timedelta(seconds=1)) == 1


async def test_rules_and_alerts_are_owner_scoped_and_need_a_token(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    alice = await user_id(client, user_headers)
    await add_calls(alice, ["error"])
    rule = await create(client, user_headers)
    alert = (await evaluate(client, user_headers, rule["id"]))["alert"]
    url = f"{API}/{rule['id']}"
    for method, path, body in (
        ("GET", url, None),
        ("PUT", url, {"name": "mine now"}),
        ("DELETE", url, None),
        ("POST", f"{url}/evaluate", None),
    ):
        response = await client.request(method, path, json=body, headers=other_headers)
        assert_error(response, 404, "ALERT_RULE_NOT_FOUND")
    assert_error(
        await client.post(f"{API}/logs/{alert['id']}/acknowledge", headers=other_headers),
        404,
        "ALERT_LOG_NOT_FOUND",
    )
    assert (await client.get(API, headers=other_headers)).json()["total"] == 0
    theirs = await client.get(f"{API}/logs", params={"rule_id": rule["id"]}, headers=other_headers)
    assert theirs.json()["total"] == 0
    assert_error(
        await client.get(f"{API}/logs", params={"state": "open"}, headers=user_headers),
        422,
        "VALIDATION_ERROR",
    )
    for method, path in (
        ("GET", API),
        ("POST", API),
        ("GET", f"{API}/logs"),
        ("POST", f"{API}/logs/x/acknowledge"),
        ("GET", url),
        ("PUT", url),
        ("DELETE", url),
        ("POST", f"{url}/evaluate"),
    ):
        assert (await client.request(method, path)).status_code == 401
