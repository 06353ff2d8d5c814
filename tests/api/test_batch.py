"""Batch execute, export and delete: only the caller's workflows, bounded lists."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tiangong.db.engine import session_factory
from tiangong.workflows.models import WorkflowRun

API = "/api/v1/batch"
MISSING = "00000000-0000-0000-0000-000000000000"


def echo_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "x"}]}},
            {"id": "end", "type": "end", "config": {"outputs": {"x": "{{start.x}}"}}},
        ],
        "edges": [{"source": "start", "target": "end"}],
    }


async def make_workflow(
    client: httpx.AsyncClient, headers: dict[str, str], name: str = "wf"
) -> str:
    body = {"name": name, "definition": echo_graph()}
    response = await client.post("/api/v1/workflows", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def settled(client: httpx.AsyncClient, headers: dict[str, str], run_id: str) -> Any:
    for _ in range(200):
        run = (await client.get(f"/api/v1/executions/{run_id}", headers=headers)).json()
        if run["status"] not in ("queued", "running"):
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} never finished")


async def test_batch_execute_queues_one_run_per_input(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    body = {"workflow_id": wf, "inputs": [{"x": "a"}, {"x": "b"}, {"x": "c"}]}
    response = await client.post(f"{API}/execute", json=body, headers=user_headers)
    assert response.status_code == 202, response.text
    run_ids = response.json()["run_ids"]
    assert len(set(run_ids)) == 3
    outputs = [(await settled(client, user_headers, r))["outputs"] for r in run_ids]
    assert outputs == [{"x": "a"}, {"x": "b"}, {"x": "c"}]
    async with session_factory()() as session:
        row = await session.get(WorkflowRun, run_ids[0])
        assert row is not None and row.trigger == "batch"


async def test_batch_execute_with_a_prefix_is_idempotent(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    body = {"workflow_id": wf, "inputs": [{"x": "1"}, {"x": "2"}], "idempotency_key_prefix": "b1"}
    first = await client.post(f"{API}/execute", json=body, headers=user_headers)
    again = await client.post(f"{API}/execute", json=body, headers=user_headers)
    assert first.json()["run_ids"] == again.json()["run_ids"]
    runs = await client.get("/api/v1/executions", headers=user_headers)
    assert runs.json()["total"] == 2


async def test_batch_execute_bad_input_and_ownership(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    for body in (
        {"workflow_id": wf, "inputs": []},
        {"workflow_id": wf, "inputs": [{}] * 101},
        {"workflow_id": wf, "inputs": ["not an object"]},
        {"workflow_id": wf},
        {"workflow_id": wf, "inputs": [{}], "idempotency_key_prefix": "k" * 151},
    ):
        response = await client.post(f"{API}/execute", json=body, headers=user_headers)
        assert response.status_code == 422, body
        assert response.json()["error"] == "VALIDATION_ERROR"
    body = {"workflow_id": wf, "inputs": [{"x": "a"}]}
    response = await client.post(f"{API}/execute", json=body, headers=other_headers)
    assert response.status_code == 404 and response.json()["error"] == "WORKFLOW_NOT_FOUND"
    assert (await client.post(f"{API}/execute", json=body)).status_code == 401
    assert (await client.get("/api/v1/executions", headers=user_headers)).json()["total"] == 0


async def test_batch_export_returns_owned_documents_and_lists_the_rest(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    one = await make_workflow(client, user_headers, name="one")
    two = await make_workflow(client, user_headers, name="two")
    theirs = await make_workflow(client, other_headers, name="theirs")
    body = {"workflow_ids": [one, theirs, two, MISSING, one]}
    response = await client.post(f"{API}/export", json=body, headers=user_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert [item["workflow_id"] for item in result["items"]] == [one, two]
    assert [item["document"]["workflow"]["name"] for item in result["items"]] == ["one", "two"]
    assert result["items"][0]["document"]["format"] == "tiangong.workflow"
    assert result["not_found"] == [theirs, MISSING]
    # A document imports back as a workflow.
    imported = await client.post(
        "/api/v1/workflows/import", json=result["items"][0]["document"], headers=user_headers
    )
    assert imported.status_code == 201, imported.text
    for bad in ({"workflow_ids": []}, {"workflow_ids": [one] * 101}, {"workflow_ids": ["x" * 37]}):
        response = await client.post(f"{API}/export", json=bad, headers=user_headers)
        assert response.status_code == 422
    assert (await client.post(f"{API}/export", json=body)).status_code == 401


async def test_batch_delete_never_touches_other_users_workflows(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    one = await make_workflow(client, user_headers)
    two = await make_workflow(client, user_headers)
    keep = await make_workflow(client, user_headers)
    theirs = await make_workflow(client, other_headers)
    body = {"workflow_id": one, "inputs": [{"x": "a"}]}
    run_id = (await client.post(f"{API}/execute", json=body, headers=user_headers)).json()[
        "run_ids"
    ][0]
    await settled(client, user_headers, run_id)
    await client.post(f"/api/v1/workflows/{two}/webhook", headers=user_headers)
    body = {"workflow_ids": [one, two, theirs, MISSING]}
    response = await client.post(f"{API}/delete", json=body, headers=user_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": [one, two], "not_found": [theirs, MISSING]}
    for gone in (one, two):
        response = await client.get(f"/api/v1/workflows/{gone}", headers=user_headers)
        assert response.status_code == 404
    assert (await client.get(f"/api/v1/workflows/{keep}", headers=user_headers)).status_code == 200
    response = await client.get(f"/api/v1/workflows/{theirs}", headers=other_headers)
    assert response.status_code == 200
    assert (await client.post(f"{API}/delete", json=body)).status_code == 401
    response = await client.post(f"{API}/delete", json={"workflow_ids": []}, headers=user_headers)
    assert response.status_code == 422
