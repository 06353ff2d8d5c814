"""/monitoring: overview counts, execution statistics, node-type usage and the activity feed,
each scoped to the caller (admins: scope=all), with exact figures from data made through the API
(plus inserted runs where a test needs timings and ages the engine cannot produce); and, for
/agent-monitoring too, bad query parameters, scope=all and missing tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.test_execution_logs import add_run
from tests.api.test_workflow_checkpoint_batch import noop_chain
from tiangong.db.base import utcnow
from tiangong.knowledge import jobs
from tiangong.llm_logs.recorder import flush as flush_llm_logs

API = "/api/v1"
MON = f"{API}/monitoring"
# Both monitoring APIs, for the input and scope checks at the end of this file.
ENDPOINTS = [
    *(f"monitoring/{p}" for p in ("overview", "executions", "node-types", "activities")),
    *(
        f"agent-monitoring/{p}"
        for p in ("overview", "llm-calls", "agents-stats", "tool-usage", "daily-trend")
    ),
]


@pytest.fixture(autouse=True)
async def jobs_settled() -> AsyncIterator[None]:
    """Background ingestion of a test ends before its tables are wiped."""
    yield
    await asyncio.wait_for(jobs.runner().idle(), timeout=60)


async def post(client: httpx.AsyncClient, url: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(f"{API}{url}", json=body, headers=headers)
    assert response.status_code in (200, 201, 202), f"{url}: {response.text}"
    return response.json()


async def read(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    response = await client.get(url, params=params, headers=headers)
    assert response.status_code == 200, f"{url}: {response.text}"
    return dict(response.json())


async def get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    return await read(client, f"{MON}/{path}", headers, **params)


async def workflow(client: httpx.AsyncClient, headers: dict[str, str], name: str = "wf") -> Any:
    return await post(client, "/workflows", {"name": name, "definition": noop_chain()}, headers)


async def execute(client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str) -> str:
    body = {"inputs": {"n": "1"}, "mode": "sync", "timeout_s": 20}
    run = await post(client, f"/workflows/{workflow_id}/execute", body, headers)
    assert run["status"] == "succeeded", run
    return str(run["id"])


def timed(created: datetime, ms: float | None) -> dict[str, Any]:
    """created_at, and started/finished `ms` apart (None: started, not finished)."""
    end = None if ms is None else created + timedelta(milliseconds=ms)
    return {"created_at": created, "started_at": created, "finished_at": end}


@pytest.fixture
async def made(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> dict[str, Any]:
    """Alice: 2 agents (1 deployed), 1 workflow run twice, 1 chat turn, 1 knowledge base with
    1 document, 1 custom tool. Bob: 1 agent and 1 workflow run once."""
    alice, bob = user_headers, other_headers
    agent = await post(client, "/agents", {"name": "helper", "system_prompt": "Help."}, alice)
    await post(client, "/agents", {"name": "drafty"}, alice)
    await post(client, f"/agents/{agent['id']}/deploy", None, alice)
    wf = await workflow(client, alice, "alice flow")
    runs = [await execute(client, alice, wf["id"]) for _ in range(2)]
    fake_llm.script([{"content": "hello"}])
    chat = await post(client, "/agent-chat/bare", {"message": "hi"}, alice)
    kb = await post(client, "/knowledge-bases", {"name": "kb"}, alice)
    doc = await post(client, f"/knowledge-bases/{kb['id']}/documents", {"text": "x"}, alice)
    tool = {
        "name": "double",
        "description": "Double a number",
        "kind": "code",
        "input_schema": {"type": "object", "properties": {"n": {"type": "number"}}},
        "code": {"language": "python", "code": "def main(n):\n    return n * 2\n"},
    }
    await post(client, "/tools", tool, alice)
    bob_agent = await post(client, "/agents", {"name": "bobs"}, bob)
    bob_wf = await workflow(client, bob, "bob flow")
    bob_run = await execute(client, bob, bob_wf["id"])
    await asyncio.wait_for(jobs.runner().idle(), timeout=60)
    await flush_llm_logs()
    return {
        "agent": agent,
        "wf": wf,
        "runs": runs,
        "conversation": chat["session_id"],
        "document": doc["items"][0]["id"],
        "bob_agent": bob_agent,
        "bob_wf": bob_wf,
        "bob_run": bob_run,
    }


ZERO_RUNS = {
    "total": 0,
    "queued": 0,
    "running": 0,
    "paused": 0,
    "succeeded": 0,
    "failed": 0,
    "cancelled": 0,
}


async def test_overview_counts_are_exact_and_scoped(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    admin_headers: dict[str, str],
    made: dict[str, Any],
) -> None:

    alice = await get(client, "overview", user_headers)
    assert alice["days"] == 7 and alice["scope"] == "own"
    assert alice["agents"] == {"total": 2, "deployed": 1}
    assert alice["workflows"] == 1
    assert alice["workflow_runs"] == {**ZERO_RUNS, "total": 2, "succeeded": 2}
    assert alice["conversations"] == {"total": 1, "recent": 1}
    assert alice["messages"] == 2
    assert alice["llm_calls"] == {"total": 1, "errors": 0}
    assert alice["knowledge"] == {"bases": 1, "documents": 1}
    assert alice["tools"] == {"custom": 1, "enabled": 1}

    bob = await get(client, "overview", other_headers)
    assert bob["agents"] == {"total": 1, "deployed": 0}
    assert bob["workflows"] == 1
    assert bob["workflow_runs"] == {**ZERO_RUNS, "total": 1, "succeeded": 1}
    assert bob["conversations"] == {"total": 0, "recent": 0}
    assert bob["messages"] == 0 and bob["llm_calls"]["total"] == 0
    assert bob["knowledge"] == {"bases": 0, "documents": 0}
    assert bob["tools"] == {"custom": 0, "enabled": 0}

    # The admin's own scope holds nothing; scope=all is everyone's.
    own = await get(client, "overview", admin_headers)
    assert own["agents"]["total"] == 0 and own["workflow_runs"]["total"] == 0
    everyone = await get(client, "overview", admin_headers, scope="all")
    assert everyone["scope"] == "all"
    assert everyone["agents"] == {"total": 3, "deployed": 1}
    assert everyone["workflows"] == 2
    assert everyone["workflow_runs"]["succeeded"] == 3
    assert everyone["messages"] == 2 and everyone["tools"]["custom"] == 1


async def test_overview_window_counts_only_recent_runs(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await workflow(client, user_headers)
    now = utcnow()
    await add_run(wf, status="failed", created_at=now - timedelta(days=3))
    await add_run(wf, status="queued", created_at=now)
    await add_run(wf, status="running", created_at=now)
    await add_run(wf, status="succeeded", created_at=now - timedelta(days=20))

    week = await get(client, "overview", user_headers)
    assert week["workflow_runs"] == {
        **ZERO_RUNS,
        "total": 3,
        "queued": 1,
        "running": 1,
        "failed": 1,
    }
    today = await get(client, "overview", user_headers, days=1)
    assert today["workflow_runs"] == {**ZERO_RUNS, "total": 2, "queued": 1, "running": 1}
    month = await get(client, "overview", user_headers, days=30)
    assert month["workflow_runs"]["total"] == 4 and month["workflow_runs"]["succeeded"] == 1


async def test_execution_stats_per_day_trigger_rate_and_durations(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    api_wf = await workflow(client, user_headers, "through the api")
    for _ in range(2):
        await execute(client, user_headers, api_wf["id"])
    wf = await workflow(client, user_headers, "inserted")
    now = utcnow()
    day = timedelta(days=1)
    await add_run(wf, trigger="webhook", **timed(now, 1000))
    await add_run(wf, trigger="schedule", **timed(now - day, 3000))
    await add_run(wf, status="failed", trigger="schedule", **timed(now - 2 * day, 4000))
    await add_run(wf, status="running", **timed(now, None))
    await add_run(wf, status="cancelled", trigger="batch", **timed(now - 10 * day, 2000))
    bob_wf = await workflow(client, other_headers, "bob's")
    await add_run(bob_wf, status="failed", **timed(now, 9000))

    stats = await get(client, "executions", user_headers, workflow_id=wf["id"])
    assert stats["workflow_id"] == wf["id"] and stats["total"] == 4
    assert stats["by_status"] == {"succeeded": 2, "failed": 1, "running": 1}
    assert stats["by_trigger"] == {"webhook": 1, "schedule": 2, "api": 1}
    assert stats["success_rate"] == pytest.approx(2 / 3)
    assert stats["avg_duration_ms"] == pytest.approx(8000 / 3, abs=0.01)
    assert stats["p95_duration_ms"] == pytest.approx(4000, abs=0.01)
    assert stats["duration_sample"] == 3
    per_day = {d["date"]: d for d in stats["per_day"]}
    assert len(stats["per_day"]) == 7 and stats["per_day"][-1]["date"] == now.date().isoformat()
    assert per_day[now.date().isoformat()] == {
        "date": now.date().isoformat(),
        "total": 2,
        "by_status": {"succeeded": 1, "running": 1},
    }
    assert per_day[(now - day).date().isoformat()]["by_status"] == {"succeeded": 1}
    assert per_day[(now - 2 * day).date().isoformat()]["by_status"] == {"failed": 1}
    assert sum(d["total"] for d in stats["per_day"]) == 4

    month = await get(client, "executions", user_headers, workflow_id=wf["id"], days=30)
    assert month["total"] == 5 and month["by_status"]["cancelled"] == 1
    assert month["success_rate"] == pytest.approx(2 / 4)
    assert month["avg_duration_ms"] == pytest.approx(10000 / 4, abs=0.01)

    # Without a filter: the API runs too (succeeded, trigger api), never Bob's.
    mine = await get(client, "executions", user_headers)
    assert mine["total"] == 6 and mine["by_status"]["succeeded"] == 4
    assert mine["by_trigger"]["api"] == 3 and mine["duration_sample"] == 5
    bobs = await get(client, "executions", other_headers)
    assert bobs["total"] == 1 and bobs["by_status"] == {"failed": 1}
    assert bobs["avg_duration_ms"] == pytest.approx(9000, abs=0.01)
    everyone = await get(client, "executions", admin_headers, scope="all")
    assert everyone["total"] == 7

    # Another user's workflow (or none at all) is not found; scope=all opens it to an admin.
    for headers, wf_id in ((other_headers, wf["id"]), (user_headers, "no-such-workflow")):
        response = await client.get(
            f"{MON}/executions", params={"workflow_id": wf_id}, headers=headers
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "WORKFLOW_NOT_FOUND"
    admin_view = await get(client, "executions", admin_headers, scope="all", workflow_id=wf["id"])
    assert admin_view["total"] == 4


async def test_empty_execution_stats_have_no_rates(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    stats = await get(client, "executions", user_headers, days=3)
    assert stats["total"] == 0 and stats["by_status"] == {} and stats["by_trigger"] == {}
    assert stats["success_rate"] is None and stats["avg_duration_ms"] is None
    assert stats["p95_duration_ms"] is None and stats["duration_sample"] == 0
    assert [d["total"] for d in stats["per_day"]] == [0, 0, 0]


async def test_node_type_usage_counts_outcomes_and_durations(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    wf = await workflow(client, user_headers)
    for _ in range(2):
        await execute(client, user_headers, wf["id"])
    await add_run(
        wf,
        [
            {"node_id": "f1", "node_type": "http_request", "duration_ms": 100},
            {"node_id": "f2", "node_type": "http_request", "status": "failed", "duration_ms": 300},
            {"node_id": "s", "node_type": "http_request", "status": "skipped"},
        ],
        status="failed",
    )
    old = utcnow() - timedelta(days=20)
    await add_run(wf, [{"node_id": "old", "node_type": "code", "created_at": old}], created_at=old)
    bob_wf = await workflow(client, other_headers)
    await execute(client, other_headers, bob_wf["id"])

    stats = await get(client, "node-types", user_headers)
    items = {item["node_type"]: item for item in stats["items"]}
    assert [i["node_type"] for i in stats["items"]] == [
        "variable_assign",
        "http_request",
        "end",
        "start",
    ]
    assert items["variable_assign"]["count"] == 6 and items["variable_assign"]["succeeded"] == 6
    assert items["start"]["count"] == 2 and items["end"]["count"] == 2
    assert items["start"]["avg_duration_ms"] is not None
    assert items["http_request"] == {
        "node_type": "http_request",
        "count": 3,
        "succeeded": 1,
        "failed": 1,
        "skipped": 1,
        "avg_duration_ms": pytest.approx(200),
    }
    month = await get(client, "node-types", user_headers, days=30)
    assert {i["node_type"]: i["count"] for i in month["items"]}["code"] == 1
    bobs = await get(client, "node-types", other_headers)
    assert {i["node_type"]: i["count"] for i in bobs["items"]} == {
        "start": 1,
        "variable_assign": 3,
        "end": 1,
    }


async def test_activity_feed_is_newest_first_limited_and_scoped(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    admin_headers: dict[str, str],
    made: dict[str, Any],
) -> None:
    feed = await get(client, "activities", user_headers)
    items = feed["items"]
    assert feed["scope"] == "own"
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)
    by_id = {i["id"]: i for i in items}
    run = by_id[made["runs"][0]]
    assert run == {**run, "type": "workflow_run", "title": "alice flow", "status": "succeeded"}
    assert by_id[made["agent"]["id"]]["status"] == "deployed"
    assert by_id[made["agent"]["id"]]["type"] == "agent"
    assert by_id[made["conversation"]]["type"] == "conversation"
    assert by_id[made["document"]]["type"] == "knowledge_document"
    # 2 agents, 2 runs, 1 conversation, 1 document; none of Bob's.
    assert len(items) == 6
    assert not {made["bob_agent"]["id"], made["bob_run"]} & by_id.keys()

    two = (await get(client, "activities", user_headers, limit=2))["items"]
    assert two == items[:2]
    everyone = (await get(client, "activities", admin_headers, scope="all"))["items"]
    assert {made["bob_agent"]["id"], made["bob_run"]} <= {i["id"] for i in everyone}
    assert len(everyone) == 8
    assert (await get(client, "activities", admin_headers))["items"] == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("monitoring/overview", {"days": 0}),
        ("monitoring/overview", {"days": 366}),
        ("monitoring/overview", {"days": "week"}),
        ("monitoring/overview", {"scope": "everyone"}),
        ("monitoring/executions", {"days": -1}),
        ("monitoring/executions", {"workflow_id": "x" * 37}),
        ("monitoring/executions", {"workflow_id": ""}),
        ("monitoring/node-types", {"days": 10**12}),
        ("monitoring/activities", {"limit": 0}),
        ("monitoring/activities", {"limit": 101}),
        ("monitoring/activities", {"scope": ""}),
        ("agent-monitoring/overview", {"agent_id": ""}),
        ("agent-monitoring/overview", {"scope": "mine"}),
        ("agent-monitoring/llm-calls", {"outcome": "boom"}),
        ("agent-monitoring/llm-calls", {"model": "m" * 201}),
        ("agent-monitoring/llm-calls", {"page": 0}),
        ("agent-monitoring/llm-calls", {"page_size": 101}),
        ("agent-monitoring/llm-calls", {"agent_id": "a" * 37}),
        ("agent-monitoring/agents-stats", {"page_size": 0}),
        ("agent-monitoring/agents-stats", {"days": "x"}),
        ("agent-monitoring/tool-usage", {"days": 400}),
        ("agent-monitoring/daily-trend", {"days": -3}),
    ],
)
async def test_bad_query_parameters_are_422(
    client: httpx.AsyncClient, user_headers: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    response = await client.get(f"{API}/{path}", params=params, headers=user_headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "VALIDATION_ERROR" and body["details"]


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_scope_all_is_for_admins_and_a_token_is_required(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    admin_headers: dict[str, str],
    path: str,
) -> None:
    url = f"{API}/{path}"
    forbidden = await client.get(url, params={"scope": "all"}, headers=user_headers)
    assert forbidden.status_code == 403, forbidden.text
    assert forbidden.json()["error"] == "ADMIN_REQUIRED"
    assert (await client.get(url)).status_code == 401
    bad = await client.get(url, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    await read(client, url, admin_headers, scope="all")
