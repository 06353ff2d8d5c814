"""Pending approvals of workflow runs, and deciding them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_workflows import approval_graph, create, wait_for

API = "/api/v1/workflows"
PENDING = "/api/v1/approval/pending"


def decide_url(approval_id: str) -> str:
    return f"/api/v1/approval/{approval_id}/decide"


def described_graph() -> dict[str, Any]:
    definition = approval_graph()
    definition["nodes"][1]["config"] = {
        "title": "Ship it?",
        "description": "Release {{start.version}}",
        "data": {"version": "{{start.version}}"},
    }
    definition["nodes"][0]["config"] = {"inputs": [{"name": "version"}]}
    return definition


async def paused_run(
    client: httpx.AsyncClient, headers: dict[str, str], name: str = "release"
) -> dict[str, Any]:
    wf = await create(client, headers, described_graph(), name=name)
    response = await client.post(
        f"{API}/{wf['id']}/execute", json={"inputs": {"version": "1.2"}}, headers=headers
    )
    run = response.json()
    assert run["status"] == "paused", run
    return dict(run)


async def test_pending_lists_the_callers_approvals_with_their_title_and_message(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    run = await paused_run(client, user_headers)
    await paused_run(client, other_headers, name="someone else's")
    body = (await client.get(PENDING, headers=user_headers)).json()
    assert body["total"] == 1
    [item] = body["items"]
    assert item["approval_id"] == run["pending_approvals"][0]["approval_id"]
    assert item["run_id"] == run["id"] and item["workflow_id"] == run["workflow_id"]
    assert item["workflow_name"] == "release" and item["node_id"] == "ask"
    assert item["title"] == "Ship it?" and item["message"] == "Release 1.2"
    assert item["data"] == {"version": "1.2"}
    assert item["waiting_since"]
    other = (await client.get(PENDING, headers=other_headers)).json()
    assert [i["workflow_name"] for i in other["items"]] == ["someone else's"]


async def test_approving_resumes_the_run_and_a_second_decision_conflicts(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    run = await paused_run(client, user_headers)
    approval_id = run["pending_approvals"][0]["approval_id"]
    response = await client.post(
        decide_url(approval_id),
        params={"wait_s": 10},
        json={"approved": True, "comment": "ship"},
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == run["id"]
    done = await wait_for(client, user_headers, run["id"], "succeeded", "failed")
    assert done["outputs"] == {"result": "approved"}
    ask = next(n for n in done["nodes"] if n["node_id"] == "ask")
    assert ask["outputs"]["comment"] == "ship" and ask["outputs"]["approved"] is True
    assert (await client.get(PENDING, headers=user_headers)).json()["total"] == 0
    again = await client.post(
        decide_url(approval_id), json={"approved": False}, headers=user_headers
    )
    assert again.status_code == 409 and again.json()["error"] == "APPROVAL_DECIDED"


async def test_rejecting_takes_the_rejected_branch(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    run = await paused_run(client, user_headers)
    approval_id = run["pending_approvals"][0]["approval_id"]
    response = await client.post(
        decide_url(approval_id),
        params={"wait_s": 10},
        json={"approved": False},
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    done = await wait_for(client, user_headers, run["id"], "succeeded", "failed")
    assert done["outputs"] == {"result": "rejected"}


async def test_auth_ownership_and_bad_input(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    run = await paused_run(client, user_headers)
    approval_id = run["pending_approvals"][0]["approval_id"]
    assert (await client.get(PENDING)).status_code == 401
    assert (await client.post(decide_url(approval_id), json={"approved": True})).status_code == 401
    response = await client.post(
        decide_url(approval_id), json={"approved": True}, headers=other_headers
    )
    assert response.status_code == 404 and response.json()["error"] == "APPROVAL_NOT_FOUND"
    response = await client.post(
        decide_url("unknown"), json={"approved": True}, headers=user_headers
    )
    assert response.status_code == 404
    for body in [{}, {"approved": "perhaps"}, {"approved": True, "comment": "x" * 2001}]:
        response = await client.post(decide_url(approval_id), json=body, headers=user_headers)
        assert response.status_code == 422, body
        assert response.json()["error"] == "VALIDATION_ERROR"
    response = await client.get(PENDING, params={"page_size": 0}, headers=user_headers)
    assert response.status_code == 422
    response = await client.post(
        decide_url("x" * 101), json={"approved": True}, headers=user_headers
    )
    assert response.status_code == 422
    # Nothing above decided it.
    assert (await client.get(PENDING, headers=user_headers)).json()["total"] == 1
