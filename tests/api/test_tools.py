from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.loopback import LoopbackServer, allow_loopback
from tiangong.db.engine import session_factory
from tiangong.tools.models import CustomTool

TOOLS = "/api/v1/tools"


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()


def _http_tool(url: str, **over: Any) -> dict[str, Any]:
    body = {
        "name": "lookup_user",
        "description": "Look a user up by id",
        "kind": "http",
        "input_schema": {
            "type": "object",
            "properties": {"user_id": {"type": "string"}, "verbose": {"type": "boolean"}},
            "required": ["user_id"],
        },
        "http": {
            "method": "GET",
            "url": url + "/users/{user_id}",
            "auth": {"type": "bearer"},
        },
        "secret": "tok-secret-123456",
    }
    body.update(over)
    return body


async def test_builtin_catalogue_has_56_tools_with_schemas(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.get(f"{TOOLS}/builtin", headers=user_headers)
    assert response.status_code == 200
    tools = response.json()
    assert len(tools) == 56
    assert len({t["name"] for t in tools}) == 56
    for tool in tools:
        assert tool["description"] and tool["category"]
        assert tool["input_schema"]["type"] == "object"
        assert tool["output_schema"]
    health = (await client.get("/health")).json()
    assert health["builtin_tools"]["count"] == 56


async def test_list_filters_by_category_and_search(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    data = (await client.get(TOOLS, params={"category": "datetime"}, headers=user_headers)).json()
    assert data["total"] >= 1 and {t["category"] for t in data["items"]} == {"datetime"}
    found = (await client.get(TOOLS, params={"search": "regex"}, headers=user_headers)).json()
    assert {"regex_match", "regex_replace"} <= {t["name"] for t in found["items"]}
    categories = (await client.get(f"{TOOLS}/categories", headers=user_headers)).json()
    assert sum(c["count"] for c in categories) == 56


async def test_use_a_builtin_tool_directly(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.post(
        f"{TOOLS}/hash_text/use",
        json={"arguments": {"text": "abc", "algorithm": "sha256"}},
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    assert "ba7816bf" in str(body["result"])


async def test_use_with_bad_arguments_is_422(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await client.post(
        f"{TOOLS}/hash_text/use", json={"arguments": {"nope": 1}}, headers=user_headers
    )
    assert response.status_code == 422
    assert response.json()["error"] == "TOOL_INPUT_INVALID"


async def test_custom_http_tool_crud_and_use(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    loopback: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allow_loopback(monkeypatch)
    created = await client.post(TOOLS, json=_http_tool(loopback.url), headers=user_headers)
    assert created.status_code == 201, created.text
    tool = created.json()
    assert tool["kind"] == "http" and tool["secret_set"] and tool["secret_masked"] == "tok****3456"
    assert "tok-secret-123456" not in created.text
    async with session_factory()() as session:
        row = (
            await session.execute(select(CustomTool).where(CustomTool.id == tool["id"]))
        ).scalar_one()
        assert row.secret_encrypted and "tok-secret-123456" not in row.secret_encrypted

    used = await client.post(
        f"{TOOLS}/{tool['id']}/use",
        json={"arguments": {"user_id": "u 1", "verbose": True}},
        headers=user_headers,
    )
    result = used.json()
    assert result["ok"] is True, result
    echoed = result["result"]["result"]["body"]
    assert echoed["path"] == "/users/u 1"
    assert echoed["query"] == {"verbose": "true"}
    assert echoed["headers"]["authorization"] == "Bearer ****"

    listed = (await client.get(TOOLS, params={"kind": "http"}, headers=user_headers)).json()
    assert [t["name"] for t in listed["items"]] == ["lookup_user"]
    updated = await client.put(
        f"{TOOLS}/{tool['id']}", json={"description": "Find a user"}, headers=user_headers
    )
    assert updated.json()["description"] == "Find a user"
    assert (await client.delete(f"{TOOLS}/{tool['id']}", headers=user_headers)).status_code == 204
    assert (await client.get(f"{TOOLS}/{tool['id']}", headers=user_headers)).status_code == 404


async def test_http_tool_to_a_private_address_is_blocked_at_use(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    created = await client.post(
        TOOLS, json=_http_tool("http://169.254.169.254"), headers=user_headers
    )
    used = await client.post(
        f"{TOOLS}/{created.json()['id']}/use",
        json={"arguments": {"user_id": "1"}},
        headers=user_headers,
    )
    assert used.json()["ok"] is False
    assert "URL_BLOCKED" in used.json()["error"]


async def test_test_http_runs_a_definition_without_saving(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    loopback: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allow_loopback(monkeypatch)
    body = {
        "http": {"method": "POST", "url": loopback.url + "/things", "body": {"name": "{name}"}},
        "input_schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        "arguments": {"name": "widget"},
    }
    response = await client.post(f"{TOOLS}/test/http", json=body, headers=user_headers)
    result = response.json()
    assert result["ok"] is True, result
    assert result["result"]["result"]["body"]["body"] == '{"name":"widget"}'
    assert (await client.get(TOOLS, params={"kind": "http"}, headers=user_headers)).json()[
        "total"
    ] == 0
    blocked = await client.post(
        f"{TOOLS}/test/http",
        json={"http": {"url": loopback.url + "/redirect-metadata"}},
        headers=user_headers,
    )
    assert blocked.json()["ok"] is False and "URL_BLOCKED" in blocked.json()["error"]


async def test_test_code_runs_in_the_sandbox(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    code = "def main(a, b):\n    return {'sum': a + b}\n"
    response = await client.post(
        f"{TOOLS}/test/code", json={"code": code, "inputs": {"a": 2, "b": 3}}, headers=user_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["result"] == {"sum": 5}


async def test_custom_code_tool_use(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    body = {
        "name": "double",
        "description": "Double a number",
        "kind": "code",
        "input_schema": {
            "type": "object",
            "properties": {"n": {"type": "number"}},
            "required": ["n"],
        },
        "code": {"language": "python", "code": "def main(n):\n    return n * 2\n"},
    }
    created = await client.post(TOOLS, json=body, headers=user_headers)
    assert created.status_code == 201, created.text
    used = await client.post(
        f"{TOOLS}/{created.json()['id']}/use", json={"arguments": {"n": 21}}, headers=user_headers
    )
    assert used.json()["result"] == {"result": 42}
    bad = await client.post(
        f"{TOOLS}/{created.json()['id']}/use", json={"arguments": {"n": "x"}}, headers=user_headers
    )
    assert bad.status_code == 422


async def test_openapi_import_creates_working_tools(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    loopback: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allow_loopback(monkeypatch)
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "1"},
        "servers": [{"url": loopback.url + "/v1"}],
        "paths": {
            "/pets/{pet_id}": {
                "parameters": [
                    {"name": "pet_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {
                    "operationId": "getPet",
                    "summary": "Get a pet",
                    "parameters": [{"name": "fields", "in": "query", "schema": {"type": "string"}}],
                },
            },
            "/pets": {
                "post": {
                    "operationId": "createPet",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    },
                }
            },
        },
        "components": {
            "schemas": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}}
        },
    }
    response = await client.post(
        f"{TOOLS}/import/openapi",
        json={
            "spec": spec,
            "name_prefix": "pets_",
            "auth": {"type": "api_key", "name": "X-Key"},
            "secret": "k-123456789",
        },
        headers=user_headers,
    )
    assert response.status_code == 201, response.text
    created = {t["name"]: t for t in response.json()["created"]}
    assert set(created) == {"pets_getPet", "pets_createPet"}
    assert created["pets_createPet"]["input_schema"]["properties"]["body"]["properties"]["name"]
    got = await client.post(
        f"{TOOLS}/{created['pets_getPet']['id']}/use",
        json={"arguments": {"pet_id": "7", "fields": "name"}},
        headers=user_headers,
    )
    echoed = got.json()["result"]["result"]["body"]
    assert echoed["path"] == "/v1/pets/7" and echoed["query"] == {"fields": "name"}
    assert echoed["headers"]["x-key"] == "****"
    posted = await client.post(
        f"{TOOLS}/{created['pets_createPet']['id']}/use",
        json={"arguments": {"body": {"name": "Rex"}}},
        headers=user_headers,
    )
    assert posted.json()["result"]["result"]["body"]["body"] == '{"name":"Rex"}'


@pytest.mark.parametrize(
    "spec",
    [
        {"swagger": "2.0"},
        {"openapi": "3.0.0", "paths": {}},
        "::: not yaml or json {",
        {"openapi": "3.0.0", "paths": {"/x": {"get": {}}}},
    ],
)
async def test_bad_openapi_documents_are_400(
    client: httpx.AsyncClient, user_headers: dict[str, str], spec: Any
) -> None:
    response = await client.post(
        f"{TOOLS}/import/openapi", json={"spec": spec}, headers=user_headers
    )
    assert response.status_code == 400
    assert response.json()["error"] == "INVALID_OPENAPI"


async def test_names_schema_and_kind_are_validated(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    builtin_name = await client.post(
        TOOLS, json=_http_tool("https://x.test", name="regex_match"), headers=user_headers
    )
    assert builtin_name.status_code == 409
    assert (
        await client.post(TOOLS, json=_http_tool("https://x.test"), headers=user_headers)
    ).status_code == 201
    dup = await client.post(TOOLS, json=_http_tool("https://x.test"), headers=user_headers)
    assert dup.status_code == 409 and dup.json()["error"] == "TOOL_NAME_TAKEN"
    bad_schema = await client.post(
        TOOLS,
        json=_http_tool("https://x.test", name="b", input_schema={"type": "nonsense"}),
        headers=user_headers,
    )
    assert bad_schema.status_code == 400
    no_config = await client.post(
        TOOLS, json={"name": "c", "description": "d", "kind": "http"}, headers=user_headers
    )
    assert no_config.status_code == 422
    bad_name = await client.post(
        TOOLS, json=_http_tool("https://x.test", name="has space"), headers=user_headers
    )
    assert bad_name.status_code == 422
    builtin_edit = await client.put(
        f"{TOOLS}/regex_match", json={"description": "x"}, headers=user_headers
    )
    assert builtin_edit.status_code == 400


async def test_tools_need_a_token_and_hide_other_users_tools(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    created = (
        await client.post(TOOLS, json=_http_tool("https://x.test"), headers=user_headers)
    ).json()
    path = f"{TOOLS}/{created['id']}"
    for call in (
        client.get(path, headers=other_headers),
        client.put(path, json={"description": "x"}, headers=other_headers),
        client.delete(path, headers=other_headers),
        client.post(f"{path}/use", json={"arguments": {"user_id": "1"}}, headers=other_headers),
    ):
        response = await call
        assert response.status_code == 404 and response.json()["error"] == "TOOL_NOT_FOUND"
    others = (await client.get(TOOLS, params={"kind": "http"}, headers=other_headers)).json()
    assert others["total"] == 0
    for call in (
        client.get(TOOLS),
        client.get(f"{TOOLS}/categories"),
        client.get(f"{TOOLS}/builtin"),
        client.get(path),
        client.post(TOOLS, json={}),
        client.put(path, json={}),
        client.delete(path),
        client.post(f"{TOOLS}/test/http", json={}),
        client.post(f"{TOOLS}/test/code", json={}),
        client.post(f"{path}/use", json={}),
        client.post(f"{TOOLS}/import/openapi", json={}),
        client.get(f"{TOOLS}/approvals"),
        client.post(f"{TOOLS}/approvals/x/approve", json={}),
    ):
        assert (await call).status_code == 401
