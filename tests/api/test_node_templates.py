"""Node templates (saved node configs), the node-type catalogue and the single-node test."""

from __future__ import annotations

from typing import Any

import httpx

from tests.loopback import LoopbackServer, allow_loopback

API = "/api/v1/node-templates"
TEST = "/api/v1/nodes/test"

LLM_TEMPLATE = {
    "name": "Polite summary",
    "description": "Summarise in a friendly tone",
    "node_type": "llm",
    "config": {"prompt": "Summarise kindly: {{start.text}}", "temperature": 0.2},
    "tags": ["text", "summary"],
}


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post(API, json={**LLM_TEMPLATE, **overrides}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_crud_paging_and_filters(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    first = await create(client, user_headers)
    assert first["node_type"] == "llm" and first["tags"] == ["text", "summary"]
    await create(
        client,
        user_headers,
        name="Wait a bit",
        description="",
        node_type="delay",
        config={"seconds": 2},
        tags=[],
    )
    await create(client, user_headers, name="Another summary", description="terse")

    listed = (await client.get(API, params={"page_size": 2}, headers=user_headers)).json()
    assert listed["total"] == 3 and len(listed["items"]) == 2
    page2 = (await client.get(API, params={"page_size": 2, "page": 2}, headers=user_headers)).json()
    assert len(page2["items"]) == 1
    delays = (await client.get(API, params={"node_type": "delay"}, headers=user_headers)).json()
    assert [t["name"] for t in delays["items"]] == ["Wait a bit"]
    found = (await client.get(API, params={"search": "FRIENDLY"}, headers=user_headers)).json()
    assert [t["id"] for t in found["items"]] == [first["id"]]

    got = await client.get(f"{API}/{first['id']}", headers=user_headers)
    assert got.status_code == 200 and got.json()["config"] == LLM_TEMPLATE["config"]

    response = await client.put(
        f"{API}/{first['id']}",
        json={"name": "Renamed", "config": {"prompt": "Shorter: {{start.text}}"}},
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Renamed" and body["config"] == {"prompt": "Shorter: {{start.text}}"}
    assert body["description"] == LLM_TEMPLATE["description"]

    assert (await client.delete(f"{API}/{first['id']}", headers=user_headers)).status_code == 204
    assert (await client.get(f"{API}/{first['id']}", headers=user_headers)).status_code == 404
    assert (await client.get(API, headers=user_headers)).json()["total"] == 2


async def test_type_and_config_are_validated(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.post(
        API, json={**LLM_TEMPLATE, "node_type": "teleport"}, headers=user_headers
    )
    assert response.status_code == 422
    assert response.json()["error"] == "UNKNOWN_NODE_TYPE"
    assert "teleport" in response.json()["message"]

    response = await client.post(
        API, json={**LLM_TEMPLATE, "config": {"prompt": "x", "temprature": 1}}, headers=user_headers
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "INVALID_CONFIG" and "temprature" in body["message"]
    assert body["details"][0]["field"] == "config.temprature"

    response = await client.post(
        API,
        json={**LLM_TEMPLATE, "config": {"prompt": "x", "temperature": 9}},
        headers=user_headers,
    )
    assert response.status_code == 422 and response.json()["error"] == "INVALID_CONFIG"

    for bad in ({"name": ""}, {"tags": ["x"] * 21}, {"unknown": 1}, {"config": "text"}):
        response = await client.post(API, json={**LLM_TEMPLATE, **bad}, headers=user_headers)
        assert response.status_code == 422, bad
        assert response.json()["error"] == "VALIDATION_ERROR"

    template = await create(client, user_headers)
    # Changing only the type re-checks the stored config against the new type.
    response = await client.put(
        f"{API}/{template['id']}", json={"node_type": "delay"}, headers=user_headers
    )
    assert response.status_code == 422 and response.json()["error"] == "INVALID_CONFIG"
    response = await client.put(
        f"{API}/{template['id']}",
        json={"node_type": "delay", "config": {"seconds": 1}},
        headers=user_headers,
    )
    assert response.status_code == 200 and response.json()["node_type"] == "delay"


async def test_node_types_catalogue(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.get(f"{API}/node-types", headers=user_headers)
    assert response.status_code == 200, response.text
    types = {t["type"]: t for t in response.json()}
    builtin = {
        "start", "end", "llm", "agent", "tool", "http_request", "code", "condition", "join",
        "variable_assign", "template", "loop", "sub_workflow", "delay", "approval",
        "knowledge_retrieval",
    }  # fmt: skip
    assert builtin <= set(types)
    llm = types["llm"]
    assert llm["version"] == 1 and llm["description"]
    assert "prompt" in llm["config_schema"]["properties"]
    assert "prompt" in llm["config_schema"]["required"]
    assert "node" in types["loop"]["config_schema"]["properties"]
    assert (await client.get(f"{API}/node-types")).status_code == 401


async def test_owner_scoping_and_auth(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    template = await create(client, user_headers)
    url = f"{API}/{template['id']}"
    assert (await client.get(url, headers=other_headers)).status_code == 404
    response = await client.put(url, json={"name": "mine"}, headers=other_headers)
    assert response.status_code == 404
    assert response.json()["error"] == "NODE_TEMPLATE_NOT_FOUND"
    assert (await client.delete(url, headers=other_headers)).status_code == 404
    assert (await client.get(API, headers=other_headers)).json()["total"] == 0
    assert (await client.get(url, headers=user_headers)).json()["name"] == LLM_TEMPLATE["name"]
    for method in ("GET", "PUT", "DELETE"):
        assert (await client.request(method, url, json={})).status_code == 401
    assert (await client.get(API)).status_code == 401
    assert (await client.post(API, json=LLM_TEMPLATE)).status_code == 401
    assert (await client.get(f"{API}/nope", headers=user_headers)).status_code == 404


# --- POST /nodes/test -----------------------------------------------------------------------


async def test_node_test_runs_an_llm_node_with_given_inputs(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    fake_llm.script([{"content": "A tidy summary."}])
    body = {
        "node": {"id": "sum", "type": "llm", "config": {"prompt": "Summarise: {{start.text}}"}},
        "inputs": {"start": {"text": "a long story about cats"}},
    }
    response = await client.post(TEST, json=body, headers=user_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "succeeded" and result["error"] is None
    assert result["outputs"]["text"] == "A tidy summary."
    assert result["duration_ms"] >= 0
    assert "a long story about cats" in str(fake_llm.requests[-1]["messages"])


async def test_node_test_runs_tools_code_http_and_branches(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: Any
) -> None:
    tool = {
        "node": {
            "type": "tool",
            "config": {"tool": "text_stats", "arguments": {"text": "{{a.t}}"}},
        },
        "inputs": {"a": {"t": "one two three"}},
    }
    result = (await client.post(TEST, json=tool, headers=user_headers)).json()
    assert result["status"] == "succeeded", result
    assert result["outputs"]["result"]["words"] == 3

    code = {
        "node": {
            "type": "code",
            "config": {
                "code": "def main(xs):\n    return sorted(xs)\n",
                "inputs": {"xs": "{{a.xs}}"},
            },
        },
        "inputs": {"a": {"xs": [3, 1, 2]}},
    }
    result = (await client.post(TEST, json=code, headers=user_headers)).json()
    assert result["status"] == "succeeded", result
    assert result["outputs"]["result"] == [1, 2, 3]

    condition = {
        "node": {
            "type": "condition",
            "config": {
                "variables": {"n": "{{a.n}}"},
                "cases": [{"id": "many", "expression": "n > 2"}],
            },
        },
        "inputs": {"a": {"n": 5}},
    }
    result = (await client.post(TEST, json=condition, headers=user_headers)).json()
    assert result["status"] == "succeeded" and result["branch"] == "many"

    allow_loopback(monkeypatch)
    server = LoopbackServer().start()
    try:
        http = {
            "node": {
                "type": "http_request",
                "config": {"url": f"{server.url}/items", "params": {"q": "{{start.q}}"}},
            },
            "inputs": {"start": {"q": "hello"}},
        }
        result = (await client.post(TEST, json=http, headers=user_headers)).json()
    finally:
        server.stop()
    assert result["status"] == "succeeded", result
    assert result["outputs"]["json"]["query"] == {"q": "hello"}

    approval = {"node": {"id": "ask", "type": "approval", "config": {"title": "Ship it?"}}}
    result = (await client.post(TEST, json=approval, headers=user_headers)).json()
    assert result["status"] == "waiting" and result["approval_id"]


async def test_node_test_failure_is_200_with_the_error(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    body = {"node": {"type": "code", "config": {"code": "def main():\n    return 1 / 0\n"}}}
    response = await client.post(TEST, json=body, headers=user_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "failed" and result["error"]["code"] == "CODE_FAILED"
    assert "ZeroDivisionError" in result["error"]["message"]

    body = {"node": {"type": "tool", "config": {"tool": "no_such_tool"}}}
    result = (await client.post(TEST, json=body, headers=user_headers)).json()
    assert result["status"] == "failed" and result["error"]["code"] == "UNKNOWN_TOOLS"

    body = {"node": {"type": "delay", "config": {"seconds": 30}}, "timeout_s": 0.1}
    result = (await client.post(TEST, json=body, headers=user_headers)).json()
    assert result["status"] == "failed" and result["error"]["code"] == "NODE_TIMEOUT"


async def test_node_test_bad_input_and_auth(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    cases = [
        ({"node": {"type": "teleport", "config": {}}}, "NODE_INVALID"),
        ({"node": {"type": "llm", "config": {"prompt": ""}}}, "NODE_INVALID"),
        ({"node": {"type": "llm", "config": {"prompt": "{{ghost.text}}"}}}, "NODE_INVALID"),
        (
            {
                "node": {"type": "delay", "config": {"seconds": "{{a.s}}"}},
                "inputs": {"a": {"s": "soon"}},
            },
            "NODE_INVALID",
        ),
        ({"node": {"type": "llm"}, "inputs": {"a": 1}}, "VALIDATION_ERROR"),
        ({"node": {"type": "llm", "config": {"prompt": "x"}}, "timeout_s": 0}, "VALIDATION_ERROR"),
        ({}, "VALIDATION_ERROR"),
    ]
    for body, code in cases:
        response = await client.post(TEST, json=body, headers=user_headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"] == code, (body, response.text)
    response = await client.post(
        TEST,
        json={"node": {"type": "llm", "config": {"prompt": "{{ghost.text}}"}}},
        headers=user_headers,
    )
    assert "ghost" in response.json()["message"]
    assert response.json()["details"][0]["field"] == "config.prompt"
    assert (await client.post(TEST, json=cases[0][0])).status_code == 401
