"""Re-running a failed run from a node, with edited node configs."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_workflows import approval_graph, create, wait_for

API = "/api/v1/workflows"
EXEC = "/api/v1/executions"


def divide_graph() -> dict[str, Any]:
    """An llm node, then code that divides by an input: x = 0 fails."""
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "a", "type": "llm", "config": {"prompt": "say something"}},
            {
                "id": "calc",
                "type": "code",
                "config": {"code": "def main(x):\n    return 10 // x\n", "inputs": {"x": 0}},
            },
            {
                "id": "end",
                "type": "end",
                "config": {"outputs": {"r": "{{calc.result}}", "a": "{{a.text}}"}},
            },
        ],
        "edges": [
            {"source": "start", "target": "a"},
            {"source": "a", "target": "calc"},
            {"source": "calc", "target": "end"},
        ],
    }


async def failed_run(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    wf = await create(client, headers, divide_graph())
    response = await client.post(
        f"{API}/{wf['id']}/execute", json={"timeout_s": 30}, headers=headers
    )
    run = response.json()
    assert run["status"] == "failed", run
    assert run["error"]["code"] == "CODE_FAILED"
    return dict(run)


async def test_rerun_from_the_failed_node_with_an_edited_input_succeeds_without_rerunning_upstream(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "hello"}])
    run = await failed_run(client, user_headers)
    before = {n["node_id"]: n for n in run["nodes"]}
    assert before["calc"]["status"] == "failed"
    assert before["a"]["duration_ms"] is not None and before["a"]["duration_ms"] >= 0

    response = await client.post(
        f"{EXEC}/{run['id']}/rerun",
        params={"wait_s": 30},
        json={"from_node": "calc", "overrides": {"calc": {"inputs": {"x": 2}}}},
        headers=user_headers,
    )
    assert response.status_code == 201, response.text
    again = response.json()
    assert again["id"] != run["id"]
    assert again["trigger"] == "rerun" and again["parent_run_id"] == run["id"]
    assert again["version"] == run["version"]
    assert again["overrides"] == {"calc": {"inputs": {"x": 2}}}
    done = await wait_for(client, user_headers, again["id"], "succeeded", "failed")
    assert done["status"] == "succeeded", done
    assert done["outputs"] == {"r": 5, "a": "hello"}
    # The llm node was not run again: one model call in all, and its record is the original's.
    assert len(fake_llm.requests) == 1
    after = {n["node_id"]: n for n in done["nodes"]}
    assert after["a"]["started_at"] == before["a"]["started_at"]
    assert after["calc"]["inputs"]["inputs"] == {"x": 2}
    assert after["calc"]["duration_ms"] > 0
    # The original run is left as it was.
    original = (await client.get(f"{EXEC}/{run['id']}", headers=user_headers)).json()
    assert original["status"] == "failed"


async def test_rerun_from_an_upstream_node_runs_it_again(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "first"}, {"content": "second"}])
    run = await failed_run(client, user_headers)
    response = await client.post(
        f"{EXEC}/{run['id']}/rerun",
        params={"wait_s": 30},
        json={
            "from_node": "a",
            "overrides": {"a": {"prompt": "edited prompt"}, "calc": {"inputs": {"x": 5}}},
        },
        headers=user_headers,
    )
    assert response.status_code == 201, response.text
    done = await wait_for(client, user_headers, response.json()["id"], "succeeded", "failed")
    assert done["outputs"] == {"r": 2, "a": "second"}
    assert len(fake_llm.requests) == 2
    assert "edited prompt" in str(fake_llm.requests[-1]["messages"])


async def test_rerun_rejects_bad_requests(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "hello"}])
    run = await failed_run(client, user_headers)
    url = f"{EXEC}/{run['id']}/rerun"
    for body in [
        {"from_node": "nope"},
        {"from_node": "calc", "overrides": {"a": {"prompt": "x"}}},  # upstream: not re-run
        {"from_node": "calc", "overrides": {"calc": {"no_such_field": 1}}},
        {"from_node": ""},
        {"from_node": "calc", "extra": True},
        {},
    ]:
        response = await client.post(url, json=body, headers=user_headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"] == "VALIDATION_ERROR"
        # Checks made by the service, too, answer the documented details[].
        assert isinstance(response.json()["details"], list) and response.json()["details"]
    assert (await client.post(url, json={"from_node": "calc"})).status_code == 401
    response = await client.post(url, json={"from_node": "calc"}, headers=other_headers)
    assert response.status_code == 404
    assert response.json()["error"] == "WORKFLOW_RUN_NOT_FOUND"

    wf = await create(client, user_headers, approval_graph(), name="paused")
    paused = (await client.post(f"{API}/{wf['id']}/execute", json={}, headers=user_headers)).json()
    response = await client.post(
        f"{EXEC}/{paused['id']}/rerun", json={"from_node": "ask"}, headers=user_headers
    )
    assert response.status_code == 409 and response.json()["error"] == "RUN_NOT_FAILED"
