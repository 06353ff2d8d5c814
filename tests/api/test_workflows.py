"""Workflows: CRUD, versions, validation, execution (sync/async/idempotent), approvals,
ownership, and resuming a crashed run from its checkpoint."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.workflows import runner
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

API = "/api/v1/workflows"
EXEC = "/api/v1/executions"


def llm_condition_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "topic"}]}},
            {"id": "llm1", "type": "llm", "config": {"prompt": "Write about {{start.topic}}"}},
            {
                "id": "check",
                "type": "condition",
                "config": {
                    "variables": {"text": "{{llm1.text}}"},
                    "cases": [{"id": "long", "expression": "len(text) > 5"}],
                },
            },
            {
                "id": "end_long",
                "type": "end",
                "config": {"outputs": {"kind": "long", "text": "{{llm1.text}}"}},
            },
            {"id": "end_short", "type": "end", "config": {"outputs": {"kind": "short"}}},
        ],
        "edges": [
            {"source": "start", "target": "llm1"},
            {"source": "llm1", "target": "check"},
            {"source": "check", "target": "end_long", "source_handle": "long"},
            {"source": "check", "target": "end_short", "source_handle": "else"},
        ],
    }


def approval_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "ask", "type": "approval", "config": {"title": "Go?"}},
            {"id": "yes", "type": "end", "config": {"outputs": {"result": "approved"}}},
            {"id": "no", "type": "end", "config": {"outputs": {"result": "rejected"}}},
        ],
        "edges": [
            {"source": "start", "target": "ask"},
            {"source": "ask", "target": "yes", "source_handle": "approved"},
            {"source": "ask", "target": "no", "source_handle": "rejected"},
        ],
    }


def two_llm_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "a", "type": "llm", "config": {"prompt": "first"}},
            {"id": "b", "type": "llm", "config": {"prompt": "second after {{a.text}}"}},
            {
                "id": "end",
                "type": "end",
                "config": {"outputs": {"a": "{{a.text}}", "b": "{{b.text}}"}},
            },
        ],
        "edges": [
            {"source": "start", "target": "a"},
            {"source": "a", "target": "b"},
            {"source": "b", "target": "end"},
        ],
    }


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], definition: dict[str, Any], name: str = "wf"
) -> dict[str, Any]:
    response = await client.post(
        API, json={"name": name, "definition": definition}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def wait_for(
    client: httpx.AsyncClient, headers: dict[str, str], run_id: str, *statuses: str
) -> dict[str, Any]:
    for _ in range(200):
        response = await client.get(f"{EXEC}/{run_id}", headers=headers)
        assert response.status_code == 200, response.text
        if response.json()["status"] in statuses:
            return dict(response.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {statuses}: {response.json()}")


async def test_crud_versions_rollback_export_import(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, approval_graph(), name="first")
    assert wf["version"] == 1
    response = await client.put(f"{API}/{wf['id']}", json={"name": "second"}, headers=user_headers)
    assert response.status_code == 200 and response.json()["version"] == 2
    response = await client.put(
        f"{API}/{wf['id']}", json={"definition": llm_condition_graph()}, headers=user_headers
    )
    assert response.json()["version"] == 3
    versions = (await client.get(f"{API}/{wf['id']}/versions", headers=user_headers)).json()
    assert [v["version"] for v in versions] == [1, 2, 3]
    v1 = (await client.get(f"{API}/{wf['id']}/versions/1", headers=user_headers)).json()
    assert v1["snapshot"]["name"] == "first"
    response = await client.post(f"{API}/{wf['id']}/versions/1/rollback", headers=user_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 4 and body["name"] == "first"
    assert body["definition"] == approval_graph()
    assert (
        await client.get(f"{API}/{wf['id']}/versions/9", headers=user_headers)
    ).status_code == 404

    listed = (await client.get(API, headers=user_headers)).json()
    assert listed["total"] == 1

    exported = (await client.get(f"{API}/{wf['id']}/export", headers=user_headers)).json()
    assert exported["format"] == "tiangong.workflow" and exported["format_version"] == 1
    response = await client.post(f"{API}/import", json=exported, headers=user_headers)
    assert response.status_code == 201 and response.json()["version"] == 1
    response = await client.post(
        f"{API}/import",
        content=b"{not json",
        headers={**user_headers, "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500
    response = await client.post(f"{API}/import", json={"format": "other"}, headers=user_headers)
    assert 400 <= response.status_code < 500

    assert (await client.delete(f"{API}/{wf['id']}", headers=user_headers)).status_code == 204
    assert (await client.get(f"{API}/{wf['id']}", headers=user_headers)).status_code == 404


async def test_validate_reports_every_problem_with_node_ids(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    good = await client.post(
        f"{API}/validate", json={"definition": approval_graph()}, headers=user_headers
    )
    assert good.status_code == 200 and good.json() == {"valid": True, "problems": []}
    bad = {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "x", "type": "no_such_type", "config": {}},
            {"id": "l", "type": "llm", "config": {}},
        ],
        "edges": [{"source": "start", "target": "ghost"}],
    }
    response = await client.post(f"{API}/validate", json={"definition": bad}, headers=user_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    node_ids = {p.get("node_id") for p in body["problems"]}
    assert {"x", "l"} <= node_ids
    assert len(body["problems"]) >= 3


async def test_execute_sync_llm_condition(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "a long enough answer"}])
    wf = await create(client, user_headers, llm_condition_graph())
    response = await client.post(
        f"{API}/{wf['id']}/execute",
        json={"inputs": {"topic": "cats"}, "mode": "sync", "timeout_s": 20},
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {"kind": "long", "text": "a long enough answer"}
    nodes = {n["node_id"]: n["status"] for n in run["nodes"]}
    assert nodes == {
        "start": "succeeded",
        "llm1": "succeeded",
        "check": "succeeded",
        "end_long": "succeeded",
        "end_short": "skipped",
    }
    assert "cats" in str(fake_llm.requests[-1]["messages"])


async def test_execute_async_and_idempotency(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "hi"}])
    wf = await create(client, user_headers, llm_condition_graph())
    body = {"inputs": {"topic": "x"}, "mode": "async", "idempotency_key": "k-1"}
    response = await client.post(f"{API}/{wf['id']}/execute", json=body, headers=user_headers)
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    done = await wait_for(client, user_headers, run_id, "succeeded", "failed")
    assert done["status"] == "succeeded" and done["outputs"] == {"kind": "short"}
    again = await client.post(f"{API}/{wf['id']}/execute", json=body, headers=user_headers)
    assert again.json()["id"] == run_id
    assert len(fake_llm.requests) == 1
    listed = (await client.get(EXEC, params={"workflow_id": wf["id"]}, headers=user_headers)).json()
    assert listed["total"] == 1
    filtered = (await client.get(EXEC, params={"status": "failed"}, headers=user_headers)).json()
    assert filtered["total"] == 0


async def test_approval_pauses_and_resume_completes(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, approval_graph())
    response = await client.post(
        f"{API}/{wf['id']}/execute", json={"mode": "sync", "timeout_s": 10}, headers=user_headers
    )
    run = response.json()
    assert run["status"] == "paused", run
    [pending] = run["pending_approvals"]
    assert pending["node_id"] == "ask"
    bad = await client.post(
        f"{EXEC}/{run['id']}/resume",
        json={"decisions": {"nope": {"approved": True}}},
        headers=user_headers,
    )
    assert bad.status_code == 409
    response = await client.post(
        f"{EXEC}/{run['id']}/resume",
        params={"wait_s": 10},
        json={"decisions": {pending["approval_id"]: {"approved": True, "comment": "ok"}}},
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    done = await wait_for(client, user_headers, run["id"], "succeeded", "failed")
    assert done["status"] == "succeeded" and done["outputs"] == {"result": "approved"}
    again = await client.post(f"{EXEC}/{run['id']}/resume", json={}, headers=user_headers)
    assert again.status_code == 409


async def test_cancel_a_paused_run(client: httpx.AsyncClient, user_headers: dict[str, str]) -> None:
    wf = await create(client, user_headers, approval_graph())
    run = (
        await client.post(f"{API}/{wf['id']}/execute", json={"timeout_s": 10}, headers=user_headers)
    ).json()
    response = await client.post(f"{EXEC}/{run['id']}/cancel", headers=user_headers)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    response = await client.post(f"{EXEC}/{run['id']}/cancel", headers=user_headers)
    assert response.status_code == 409


async def test_ownership_auth_and_bad_input(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, approval_graph())
    run = (
        await client.post(f"{API}/{wf['id']}/execute", json={"timeout_s": 10}, headers=user_headers)
    ).json()
    for method, url in [
        ("GET", f"{API}/{wf['id']}"),
        ("PUT", f"{API}/{wf['id']}"),
        ("DELETE", f"{API}/{wf['id']}"),
        ("GET", f"{API}/{wf['id']}/versions"),
        ("POST", f"{API}/{wf['id']}/execute"),
        ("GET", f"{EXEC}/{run['id']}"),
        ("POST", f"{EXEC}/{run['id']}/cancel"),
        ("POST", f"{EXEC}/{run['id']}/resume"),
    ]:
        response = await client.request(method, url, json={}, headers=other_headers)
        assert response.status_code == 404, (method, url, response.text)
    assert (await client.get(EXEC, headers=other_headers)).json()["total"] == 0
    assert (await client.get(API)).status_code == 401
    assert (await client.get(f"{EXEC}/{run['id']}")).status_code == 401
    assert (await client.post(API, json={"name": ""}, headers=user_headers)).status_code == 422
    response = await client.post(
        f"{API}/{wf['id']}/execute", json={"mode": "later"}, headers=user_headers
    )
    assert response.status_code == 422
    invalid = await create(client, user_headers, {"nodes": [], "edges": []}, name="empty")
    response = await client.post(f"{API}/{invalid['id']}/execute", json={}, headers=user_headers)
    assert response.status_code == 422


async def test_recovery_resumes_a_crashed_run_without_rerunning_finished_nodes(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "from b"}])
    wf = await create(client, user_headers, two_llm_graph())
    stale = utcnow() - timedelta(minutes=10)
    async with session_factory()() as session:
        run = WorkflowRun(
            workflow_id=wf["id"],
            version=1,
            owner_id=wf["owner_id"],
            status="running",
            inputs={},
            started_at=stale,
            heartbeat_at=stale,
        )
        session.add(run)
        await session.flush()
        session.add_all(
            [
                WorkflowNodeRun(
                    run_id=run.id,
                    node_id="start",
                    node_type="start",
                    status="succeeded",
                    attempts=1,
                    inputs={},
                    outputs={},
                    started_at=stale,
                    finished_at=stale,
                ),
                WorkflowNodeRun(
                    run_id=run.id,
                    node_id="a",
                    node_type="llm",
                    status="succeeded",
                    attempts=1,
                    inputs={"prompt": "first"},
                    outputs={"text": "from a", "usage": {}},
                    started_at=stale,
                    finished_at=stale,
                ),
                # The process died while b ran: it runs again.
                WorkflowNodeRun(
                    run_id=run.id,
                    node_id="b",
                    node_type="llm",
                    status="running",
                    attempts=1,
                    inputs={},
                    started_at=stale,
                ),
            ]
        )
        await session.commit()
        run_id = run.id
    resumed = await runner.recover()
    assert run_id in resumed
    done = await wait_for(client, user_headers, run_id, "succeeded", "failed")
    assert done["status"] == "succeeded", done
    assert done["outputs"] == {"a": "from a", "b": "from b"}
    # Only b called the model; a's recorded output was reused.
    assert len(fake_llm.requests) == 1
    assert "second after from a" in str(fake_llm.requests[0]["messages"])


async def test_recovery_gives_up_after_max_attempts(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await create(client, user_headers, approval_graph())
    stale = utcnow() - timedelta(minutes=10)
    async with session_factory()() as session:
        run = WorkflowRun(
            workflow_id=wf["id"],
            version=1,
            owner_id=wf["owner_id"],
            status="running",
            inputs={},
            heartbeat_at=stale,
            recoveries=runner.MAX_RECOVERIES,
        )
        session.add(run)
        await session.commit()
        run_id = run.id
    assert await runner.recover() == []
    body = (await client.get(f"{EXEC}/{run_id}", headers=user_headers)).json()
    assert body["status"] == "failed" and body["error"]["code"] == "RUN_ABANDONED"
