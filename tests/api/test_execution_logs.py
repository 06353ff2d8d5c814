"""/execution-logs: listing and search, stats, a run's log, one node, performance, call chain,
and the retention policy endpoints; owner scoping and input checks for each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.test_workflows import create, two_llm_graph
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

API = "/api/v1/execution-logs"
T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=utcnow().tzinfo)


def ms(value: float) -> datetime:
    return T0 + timedelta(milliseconds=value)


async def add_run(wf: dict[str, Any], nodes: Sequence[dict[str, Any]] = (), **values: Any) -> str:
    """Insert a run and its node runs directly, for timings and ages the engine cannot fake."""
    async with session_factory()() as session:
        run = WorkflowRun(
            workflow_id=wf["id"],
            version=wf["version"],
            owner_id=wf["owner_id"],
            **{"status": "succeeded", "inputs": {}, **values},
        )
        session.add(run)
        await session.flush()
        for node in nodes:
            session.add(WorkflowNodeRun(run_id=run.id, **{"status": "succeeded", **node}))
        await session.commit()
        return run.id


def diamond() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "a", "type": "delay", "config": {"seconds": 0}},
            {"id": "b", "type": "delay", "config": {"seconds": 0}},
            {"id": "end", "type": "end", "config": {"outputs": {}}},
        ],
        "edges": [
            {"source": "start", "target": "a"},
            {"source": "start", "target": "b"},
            {"source": "a", "target": "end"},
            {"source": "b", "target": "end"},
        ],
    }


async def test_log_of_an_executed_run_has_every_node_in_order(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "one"}, {"content": "two"}])
    wf = await create(client, user_headers, two_llm_graph(), name="two steps")
    response = await client.post(
        f"/api/v1/workflows/{wf['id']}/execute",
        json={"mode": "sync", "timeout_s": 20},
        headers=user_headers,
    )
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    run_id = response.json()["id"]

    listed = (await client.get(API, headers=user_headers)).json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["id"] == run_id and item["workflow_name"] == "two steps"
    assert item["duration_ms"] is not None and item["trigger"] == "api"

    log = (await client.get(f"{API}/{run_id}", headers=user_headers)).json()
    assert [n["node_id"] for n in log["nodes"]] == ["start", "a", "b", "end"]
    assert all(n["duration_ms"] is not None for n in log["nodes"])
    assert log["nodes"][1]["outputs"]["text"] == "one"

    node = await client.get(f"{API}/{run_id}/nodes/b", headers=user_headers)
    assert node.status_code == 200
    assert node.json()["inputs"]["prompt"] == "second after one"
    missing = await client.get(f"{API}/{run_id}/nodes/ghost", headers=user_headers)
    assert missing.status_code == 404 and missing.json()["error"] == "NODE_LOG_NOT_FOUND"

    perf = (await client.get(f"{API}/{run_id}/performance", headers=user_headers)).json()
    assert perf["critical_path"]["node_ids"] == ["start", "a", "b", "end"]
    assert {t["node_type"] for t in perf["by_type"]} == {"start", "llm", "end"}

    chain = (await client.get(f"{API}/{run_id}/call-chain", headers=user_headers)).json()
    llm_calls = [c for n in chain["nodes"] for c in n["calls"] if c["kind"] == "llm"]
    assert len(llm_calls) == 2


async def test_filters_paging_and_search(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, diamond(), name="Nightly Report")
    other_wf = await create(client, user_headers, diamond(), name="ingest")
    now = utcnow()
    old = await add_run(wf, status="succeeded", created_at=now - timedelta(days=3))
    failed = await add_run(
        wf,
        [
            {
                "node_id": "fetch_prices",
                "node_type": "http_request",
                "status": "failed",
                "error": {"code": "HTTP_TIMEOUT", "message": "上游服务超时"},
            },
        ],
        status="failed",
        error={"code": "NODE_FAILED", "message": "node fetch_prices failed"},
        created_at=now - timedelta(hours=1),
    )
    scheduled = await add_run(other_wf, trigger="schedule", created_at=now - timedelta(minutes=5))
    theirs_wf = await create(client, other_headers, diamond(), name="Nightly Report")
    await add_run(theirs_wf, status="failed", error={"code": "NODE_FAILED", "message": "x"})

    async def ids(**params: Any) -> list[str]:
        response = await client.get(API, params=params, headers=user_headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [scheduled, failed, old]
    assert await ids(status="failed") == [failed]
    assert await ids(trigger="schedule") == [scheduled]
    assert await ids(workflow_id=wf["id"]) == [failed, old]
    assert await ids(since=(now - timedelta(days=1)).isoformat()) == [scheduled, failed]
    assert await ids(until=(now - timedelta(days=1)).isoformat()) == [old]
    page2 = (await client.get(API, params={"page": 2, "page_size": 2}, headers=user_headers)).json()
    assert [i["id"] for i in page2["items"]] == [old] and page2["total"] == 3

    assert await ids(q="nightly") == [failed, old]  # workflow name, any case
    assert await ids(q=scheduled[:8]) == [scheduled]  # run id
    assert await ids(q="FETCH_PRICES") == [failed]  # node id
    assert await ids(q="http_req") == [failed]  # node type
    assert await ids(q="http_timeout") == [failed]  # node error code
    assert await ids(q="超时") == [failed]  # node error message, not ASCII
    assert await ids(q="node_failed") == [failed]  # run error code
    assert await ids(q="%") == []  # LIKE wildcards are literal
    assert await ids(q="_") == [failed]  # only node ids / codes with a real underscore


async def test_list_rejects_bad_input(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for params in (
        {"status": "exploded"},
        {"trigger": "cron"},
        {"since": "yesterday"},
        {"page_size": 0},
        {"page_size": 101},
        {"q": "x" * 201},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ):
        response = await client.get(API, params=params, headers=user_headers)
        assert response.status_code == 422, (params, response.text)
        assert "error" in response.json() and "message" in response.json()


async def test_stats_counts_rates_durations_days_and_failing_nodes(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, diamond())
    now = utcnow()
    for seconds in (1, 2, 3, 4):
        await add_run(
            wf,
            started_at=now - timedelta(seconds=10),
            finished_at=now - timedelta(seconds=10 - seconds),
        )
    for _ in range(2):
        await add_run(
            wf,
            [{"node_id": "a", "node_type": "delay", "status": "failed"}],
            status="failed",
            created_at=now - timedelta(days=1),
        )
    await add_run(wf, status="running")
    await add_run(wf, status="failed", created_at=now - timedelta(days=30))  # outside 7 days
    theirs = await create(client, other_headers, diamond())
    await add_run(theirs, status="failed")

    response = await client.get(f"{API}/stats", params={"days": 7}, headers=user_headers)
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["total"] == 7
    assert stats["by_status"] == {"succeeded": 4, "failed": 2, "running": 1}
    assert stats["success_rate"] == pytest.approx(4 / 6)
    assert stats["avg_duration_ms"] == pytest.approx(2500, abs=1)
    assert stats["p95_duration_ms"] == pytest.approx(4000, abs=1)
    assert len(stats["per_day"]) == 7
    assert stats["per_day"][-1]["date"] == now.date().isoformat()
    assert stats["per_day"][-1]["total"] == 5 and stats["per_day"][-2]["failed"] == 2
    assert stats["top_failing_nodes"] == [
        {"workflow_id": wf["id"], "node_id": "a", "node_type": "delay", "failures": 2}
    ]
    for days in (0, 91, "x"):
        bad = await client.get(f"{API}/stats", params={"days": days}, headers=user_headers)
        assert bad.status_code == 422 and bad.json()["error"]


async def test_performance_breakdown_from_timings(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, diamond())
    run_id = await add_run(
        wf,
        [
            {"node_id": "start", "node_type": "start", "started_at": ms(0), "finished_at": ms(100)},
            # No duration_ms recorded: computed from the timestamps.
            {"node_id": "a", "node_type": "delay", "started_at": ms(150), "finished_at": ms(1150)},
            {
                "node_id": "b",
                "node_type": "delay",
                "started_at": ms(120),
                "finished_at": ms(400),
                "duration_ms": 280.0,
            },
            {"node_id": "end", "node_type": "end", "started_at": ms(1200), "finished_at": ms(1300)},
        ],
        created_at=ms(-500),
        started_at=ms(0),
        finished_at=ms(1400),
    )
    response = await client.get(f"{API}/{run_id}/performance", headers=user_headers)
    assert response.status_code == 200, response.text
    perf = response.json()
    assert perf["total_ms"] == pytest.approx(1400)
    assert perf["queue_ms"] == pytest.approx(500)
    assert perf["node_time_ms"] == pytest.approx(1480)
    assert perf["idle_ms"] == pytest.approx(170)
    assert [t["node_id"] for t in perf["slowest"]] == ["a", "b", "end", "start"]  # ties by id
    slowest = perf["slowest"][0]
    assert slowest["duration_ms"] == pytest.approx(1000)
    assert slowest["share"] == pytest.approx(1000 / 1400)
    assert slowest["wait_ms"] == pytest.approx(50)
    end = next(t for t in perf["slowest"] if t["node_id"] == "end")
    assert end["wait_ms"] == pytest.approx(50)  # after a, the later of its two inputs
    delay = next(t for t in perf["by_type"] if t["node_type"] == "delay")
    assert delay == {"node_type": "delay", "count": 2, "total_ms": 1280.0, "share": 1280 / 1400}
    assert perf["critical_path"] == {"node_ids": ["start", "a", "end"], "duration_ms": 1200.0}

    top1 = await client.get(f"{API}/{run_id}/performance?limit=1", headers=user_headers)
    assert [t["node_id"] for t in top1.json()["slowest"]] == ["a"]
    bad = await client.get(f"{API}/{run_id}/performance?limit=0", headers=user_headers)
    assert bad.status_code == 422


async def test_call_chain_nests_sub_workflows_agents_tools_and_models(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, diamond())
    root = await add_run(
        wf,
        [
            {
                "node_id": "helper",
                "node_type": "agent",
                "started_at": ms(0),
                "inputs": {"agent_id": "agent-1", "message": "hi"},
                "outputs": {
                    "text": "ok",
                    "conversation_id": "conv-9",
                    "tool_calls": [{"name": "calculator"}],
                },
            },
            {
                "node_id": "search",
                "node_type": "tool",
                "started_at": ms(1),
                "inputs": {"tool": "web_search"},
            },
            {
                "node_id": "write",
                "node_type": "llm",
                "started_at": ms(2),
                "inputs": {"model": "gpt-x"},
            },
            {
                "node_id": "sub",
                "node_type": "sub_workflow",
                "started_at": ms(3),
                "inputs": {"workflow_id": wf["id"]},
            },
        ],
    )
    child = await add_run(
        wf,
        [{"node_id": "sub2", "node_type": "sub_workflow", "inputs": {"workflow_id": wf["id"]}}],
        trigger="sub_workflow",
        parent_run_id=root,
        parent_node_id="sub",
    )
    grandchild = await add_run(
        wf,
        [{"node_id": "t", "node_type": "tool", "inputs": {"tool": "clock"}}],
        trigger="sub_workflow",
        parent_run_id=child,
        parent_node_id="sub2",
    )
    # Another owner's row pointing at our run is never part of our tree.
    theirs = await create(client, other_headers, diamond())
    await add_run(theirs, parent_run_id=root, parent_node_id="sub")

    response = await client.get(f"{API}/{root}/call-chain", headers=user_headers)
    assert response.status_code == 200, response.text
    chain = response.json()
    assert chain["run_id"] == root and chain["depth"] == 0
    calls = {n["node_id"]: n["calls"] for n in chain["nodes"]}
    assert calls["helper"][0]["kind"] == "agent"
    assert calls["helper"][0]["name"] == "agent-1"
    assert calls["helper"][0]["conversation_id"] == "conv-9"
    assert calls["helper"][0]["calls"][0] == {
        **calls["helper"][0]["calls"][0],
        "kind": "tool",
        "name": "calculator",
    }
    assert calls["search"][0]["name"] == "web_search" and calls["search"][0]["kind"] == "tool"
    assert calls["write"][0] == {**calls["write"][0], "kind": "llm", "name": "gpt-x"}
    assert len(calls["sub"]) == 1
    child_run = calls["sub"][0]["run"]
    assert child_run["run_id"] == child and child_run["depth"] == 1
    grand = child_run["nodes"][0]["calls"][0]["run"]
    assert grand["run_id"] == grandchild and grand["depth"] == 2
    assert grand["nodes"][0]["calls"][0]["name"] == "clock"

    shallow = (await client.get(f"{API}/{root}/call-chain?depth=1", headers=user_headers)).json()
    sub2 = shallow["nodes"][3]["calls"][0]["run"]["nodes"][0]["calls"][0]
    assert sub2["run"] is None and sub2["truncated"] is True
    # The child's own chain starts at depth 0.
    assert (await client.get(f"{API}/{child}/call-chain", headers=user_headers)).json()[
        "depth"
    ] == 0
    for depth in (-1, 11):
        bad = await client.get(f"{API}/{root}/call-chain?depth={depth}", headers=user_headers)
        assert bad.status_code == 422


async def test_run_endpoints_are_owner_scoped_and_need_a_token(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, diamond())
    run_id = await add_run(wf, [{"node_id": "start", "node_type": "start"}])
    paths = [
        f"{API}/{run_id}",
        f"{API}/{run_id}/nodes/start",
        f"{API}/{run_id}/performance",
        f"{API}/{run_id}/call-chain",
    ]
    for path in paths:
        assert (await client.get(path, headers=user_headers)).status_code == 200, path
        response = await client.get(path, headers=other_headers)
        assert response.status_code == 404, path
        assert response.json()["error"] == "WORKFLOW_RUN_NOT_FOUND"
        assert (
            await client.get(path.replace(run_id, "no-such-run"), headers=user_headers)
        ).status_code == 404
    assert (await client.get(API, headers=other_headers)).json()["total"] == 0
    for path in [API, f"{API}/stats", f"{API}/retention", *paths]:
        response = await client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"] == "NOT_AUTHENTICATED"
    response = await client.put(f"{API}/retention", json={"retention_days": 5})
    assert response.status_code == 401


async def test_retention_policy_defaults_and_updates_per_owner(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    response = await client.get(f"{API}/retention", headers=user_headers)
    assert response.status_code == 200
    assert response.json() == {"retention_days": 30, "is_default": True}
    response = await client.put(
        f"{API}/retention", json={"retention_days": 7}, headers=user_headers
    )
    assert response.status_code == 200
    assert response.json() == {"retention_days": 7, "is_default": False}
    response = await client.put(
        f"{API}/retention", json={"retention_days": 3650}, headers=user_headers
    )
    assert response.json()["retention_days"] == 3650
    assert (await client.get(f"{API}/retention", headers=user_headers)).json()[
        "retention_days"
    ] == 3650
    # One owner's policy is not another's.
    assert (await client.get(f"{API}/retention", headers=other_headers)).json()[
        "is_default"
    ] is True
    for body in (
        {"retention_days": 0},
        {"retention_days": 3651},
        {"retention_days": "many"},
        {},
        {"retention_days": 5, "extra": 1},
    ):
        response = await client.put(f"{API}/retention", json=body, headers=user_headers)
        assert response.status_code == 422, body
        assert response.json()["error"]
