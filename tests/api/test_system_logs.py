"""The unified system log over audit entries, failed LLM calls and failed workflow runs:
merge order, filters, paging, scope and stats; the admin-only in-process application log."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import httpx

from tests.api.test_execution_logs import add_run, diamond
from tests.api.test_workflows import create as create_workflow
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.llm_logs.models import LLMCallLog
from tiangong.notices.audit import recorder

API = "/api/v1/system-logs"


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.get("/api/v1/auth/me", headers=headers)).json()["id"])


async def add_call(owner: str, outcome: str, **values: Any) -> None:
    async with session_factory()() as session:
        session.add(
            LLMCallLog(
                user_id=owner,
                model="gpt-x",
                outcome=outcome,
                latency_ms=5,
                error_code="LLM_RATE_LIMITED" if outcome == "error" else None,
                **values,
            )
        )
        await session.commit()


async def listed(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(API, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def seed(
    client: httpx.AsyncClient, alice_headers: dict[str, str], bob_headers: dict[str, str]
) -> None:
    """Alice: 2 audit entries (201, 404), 1 failed and 1 ok LLM call, 1 failed and 1 ok run.
    Bob: 1 failed LLM call."""
    alice = await user_id(client, alice_headers)
    bob = await user_id(client, bob_headers)
    wf = await create_workflow(client, alice_headers, diamond(), name="nightly")
    await add_run(wf, status="failed", error={"code": "NODE_FAILED", "message": "node b broke"})
    await add_run(wf, status="succeeded")
    await add_call(alice, "error")
    await add_call(alice, "ok")
    await add_call(bob, "error")
    await client.put("/api/v1/notifications/nope/read", headers=alice_headers)
    await recorder.flush()


async def test_one_list_over_three_sources_with_filters_and_paging(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    await seed(client, user_headers, other_headers)
    everything = await listed(client, user_headers)
    assert everything["total"] == 4 and everything["scope"] == "own"
    by_source = {e["source"]: e for e in everything["items"]}
    assert set(by_source) == {"audit", "llm", "workflow"}
    times = [e["time"] for e in everything["items"]]
    assert times == sorted(times, reverse=True)  # newest first across sources
    assert "node b broke" in by_source["workflow"]["message"]
    assert by_source["workflow"]["level"] == "error"
    assert by_source["llm"]["message"] == "LLM call to gpt-x failed: LLM_RATE_LIMITED"
    audits = [e for e in everything["items"] if e["source"] == "audit"]
    assert {(e["level"], e["details"]["status_code"]) for e in audits} == {
        ("info", 201),  # creating the workflow
        ("warning", 404),
    }

    assert (await listed(client, user_headers, source="llm"))["total"] == 1
    two = await listed(client, user_headers, source=["llm", "workflow"])
    assert {e["source"] for e in two["items"]} == {"llm", "workflow"}
    errors = await listed(client, user_headers, level="error")
    assert {e["source"] for e in errors["items"]} == {"llm", "workflow"}
    warnings = await listed(client, user_headers, level="warning")
    assert [e["details"]["status_code"] for e in warnings["items"]] == [404]
    future = (utcnow() + timedelta(minutes=5)).isoformat()
    assert (await listed(client, user_headers, since=future))["total"] == 0
    past = (utcnow() - timedelta(minutes=5)).isoformat()
    assert (await listed(client, user_headers, until=past))["total"] == 0

    ids = [e["id"] for e in everything["items"]]
    pages = [(await listed(client, user_headers, page=n, page_size=3))["items"] for n in (1, 2)]
    assert [e["id"] for e in pages[0] + pages[1]] == ids


async def test_scope_and_stats(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    await seed(client, user_headers, other_headers)
    bobs = await listed(client, other_headers)
    assert [e["source"] for e in bobs["items"]] == ["llm"]
    forbidden = await client.get(API, params={"scope": "all"}, headers=user_headers)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "ADMIN_REQUIRED"
    everyone = await listed(client, admin_headers, scope="all", source="llm")
    assert everyone["total"] == 2

    stats = await client.get(f"{API}/stats", headers=user_headers)
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["by_source"] == {"audit": 2, "llm": 1, "workflow": 1}
    assert body["by_level"] == {"info": 1, "warning": 1, "error": 2}
    assert body["total"] == 4 and body["hours"] == 24
    assert {"source": "audit", "level": "warning", "count": 1} in body["breakdown"]
    all_stats = (
        await client.get(f"{API}/stats", params={"scope": "all"}, headers=admin_headers)
    ).json()
    assert all_stats["by_source"]["llm"] == 2


async def test_app_log_is_for_admins_with_level_and_logger_filters(
    client: httpx.AsyncClient, admin_headers: dict[str, str], user_headers: dict[str, str]
) -> None:
    logging.getLogger("tiangong.notices.test").warning("disk almost full: %d%%", 93)
    try:
        raise ValueError("kaboom")
    except ValueError:
        logging.getLogger("tiangong.notices.test").exception("job crashed")
    logging.getLogger("elsewhere").error("not ours")

    refused = await client.get(f"{API}/app", headers=user_headers)
    assert refused.status_code == 403 and refused.json()["error"] == "ADMIN_REQUIRED"
    response = await client.get(
        f"{API}/app",
        params={"level": "WARNING", "logger": "tiangong.notices"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [r["message"] for r in items[:2]] == ["job crashed", "disk almost full: 93%"]
    assert "ValueError: kaboom" in items[0]["exception"] and items[0]["level"] == "ERROR"
    assert all(r["logger"].startswith("tiangong.notices") for r in items)
    everything = (
        await client.get(f"{API}/app", params={"limit": 1000}, headers=admin_headers)
    ).json()
    assert all(r["message"] != "not ours" for r in everything["items"])
    one = (await client.get(f"{API}/app", params={"limit": 1}, headers=admin_headers)).json()
    assert len(one["items"]) == 1


async def test_bad_input_and_no_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for path, params in (
        (API, {"source": "kernel"}),
        (API, {"level": "fatal"}),
        (API, {"page_size": 0}),
        (API, {"since": "soon"}),
        (f"{API}/stats", {"hours": 0}),
        (f"{API}/stats", {"hours": 721}),
        (f"{API}/app", {"level": "LOUD"}),
        (f"{API}/app", {"limit": 0}),
    ):
        response = await client.get(path, params=params, headers=admin_headers)
        assert response.status_code == 422 and response.json()["error"] == "VALIDATION_ERROR"
    deep = await client.get(API, params={"page": 100, "page_size": 100}, headers=admin_headers)
    assert deep.status_code == 422 and deep.json()["error"] == "PAGE_TOO_DEEP"
    for path in (API, f"{API}/stats", f"{API}/app"):
        assert (await client.get(path)).status_code == 401
