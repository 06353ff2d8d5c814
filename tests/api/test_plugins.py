"""Plugins: manifests and versions, the market, publishing, installing, the enable switch, and
installed tools in the tool catalogue and in agents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.api.asserts import assert_error
from tests.conftest import parse_sse
from tests.loopback import LoopbackServer, allow_loopback
from tiangong.db.engine import session_factory
from tiangong.plugins.models import PluginInstallation
from tiangong.plugins.service import version_key

API = "/api/v1/plugins"
TOOLS = "/api/v1/tools"


@pytest.fixture(scope="module")
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()


def manifest(url: str = "https://api.example.com", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "weather",
        "version": "1.0.0",
        "description": "Weather forecasts",
        "icon": "🌦",
        "tools": [
            {
                "name": "forecast",
                "description": "The forecast for a city",
                "input_schema": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
                "http": {
                    "method": "GET",
                    "url": url + "/forecast/{city}",
                    "auth": {"type": "api_key", "name": "X-Api-Key"},
                },
            }
        ],
    }
    body.update(over)
    return body


async def create(client: httpx.AsyncClient, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    response = await client.post(API, json=manifest(**over), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_crud_with_paging_search_and_author_default(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    first = await create(client, user_headers)
    assert first["author"] == "alice" and first["is_owner"] is True
    assert first["is_published"] is False and first["install_count"] == 0
    assert first["installation"] is None
    assert first["tools"][0]["qualified_name"] == "plugin__weather__forecast"
    await create(client, user_headers, name="stocks", description="Share prices", author="ACME")
    await create(client, user_headers, name="news", description="Headlines")

    listed = (await client.get(API, params={"page_size": 2}, headers=user_headers)).json()
    assert listed["total"] == 3 and len(listed["items"]) == 2
    page2 = (await client.get(API, params={"page_size": 2, "page": 2}, headers=user_headers)).json()
    assert len(page2["items"]) == 1
    found = (await client.get(API, params={"q": "acme"}, headers=user_headers)).json()
    assert [p["name"] for p in found["items"]] == ["stocks"]

    got = await client.get(f"{API}/{first['id']}", headers=user_headers)
    assert got.status_code == 200 and got.json()["tools"] == first["tools"]
    updated = await client.put(
        f"{API}/{first['id']}", json={"description": "Forecasts", "icon": ""}, headers=user_headers
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "Forecasts" and updated.json()["version"] == "1.0.0"

    assert (await client.delete(f"{API}/{first['id']}", headers=user_headers)).status_code == 204
    assert_error(
        await client.get(f"{API}/{first['id']}", headers=user_headers), 404, "PLUGIN_NOT_FOUND"
    )
    assert_error(
        await client.delete(f"{API}/{first['id']}", headers=user_headers), 404, "PLUGIN_NOT_FOUND"
    )


async def test_manifest_validation(client: httpx.AsyncClient, user_headers: dict[str, str]) -> None:
    tool = manifest()["tools"][0]
    bad_bodies = [
        manifest(version="1.0"),
        manifest(version="01.0.0"),
        manifest(name="Weather"),
        manifest(name="x" * 25),
        manifest(tools=[]),
        manifest(tools=[tool, tool]),
        manifest(tools=[{**tool, "name": "bad name"}]),
        manifest(tools=[{**tool, "http": {"url": "ftp://example.com/x"}}]),
        manifest(tools=[{**tool, "http": {"url": "/relative"}}]),
        manifest(tools=[{**tool, "unknown": 1}]),
        {**manifest(), "description": "x" * 4001},
        manifest(tools=[{**tool, "input_schema": {"type": "object", "description": "x" * 20_001}}]),
    ]
    for body in bad_bodies:
        assert_error(
            await client.post(API, json=body, headers=user_headers), 422, "VALIDATION_ERROR"
        )
    assert_error(
        await client.post(
            API,
            json=manifest(
                tools=[{**tool, "input_schema": {"type": "object", "minProperties": -1}}]
            ),
            headers=user_headers,
        ),
        400,
        "INVALID_INPUT_SCHEMA",
    )
    assert_error(
        await client.post(
            API,
            json=manifest(tools=[{**tool, "input_schema": {"type": "string"}}]),
            headers=user_headers,
        ),
        400,
        "INVALID_INPUT_SCHEMA",
    )
    await create(client, user_headers, version="1.0.0-beta.2+build.7")
    assert_error(
        await client.post(API, json=manifest(), headers=user_headers), 409, "PLUGIN_NAME_TAKEN"
    )


async def test_versions_must_increase_and_tool_changes_need_a_new_version(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    plugin = await create(client, user_headers, version="1.2.0")
    url = f"{API}/{plugin['id']}"
    # Sending the unchanged tools (defaults left out) is no change.
    unchanged = await client.put(url, json={"tools": manifest()["tools"]}, headers=user_headers)
    assert unchanged.status_code == 200, unchanged.text
    new_tools = [{**manifest()["tools"][0], "description": "Tomorrow's weather"}]
    same = await client.put(url, json={"tools": new_tools}, headers=user_headers)
    assert_error(same, 409, "PLUGIN_VERSION_NOT_INCREASED")
    lower = await client.put(url, json={"version": "1.1.9"}, headers=user_headers)
    assert_error(lower, 409, "PLUGIN_VERSION_NOT_INCREASED")
    pre = await client.put(url, json={"version": "1.2.0-rc.1"}, headers=user_headers)
    assert_error(pre, 409, "PLUGIN_VERSION_NOT_INCREASED")
    bumped = await client.put(
        url, json={"version": "1.3.0", "tools": new_tools}, headers=user_headers
    )
    assert bumped.status_code == 200, bumped.text
    assert bumped.json()["tools"][0]["description"] == "Tomorrow's weather"
    assert bumped.json()["tools"][0]["http"]["timeout_s"] == 30
    # The same tools again need no bump.
    assert (
        await client.put(url, json={"tools": new_tools}, headers=user_headers)
    ).status_code == 200
    for body in ({}, {"name": None}, {"version": None}):
        assert_error(
            await client.put(url, json=body, headers=user_headers), 422, "VALIDATION_ERROR"
        )


def test_semver_precedence() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.10.0",
        "2.0.0",
    ]
    assert sorted(ordered, key=version_key) == ordered
    assert version_key("1.0.0+build.1") == version_key("1.0.0")


async def test_market_lists_published_plugins_of_everyone(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    mine = await create(client, user_headers)
    await create(client, user_headers, name="private")
    theirs = await create(client, other_headers, name="maps", description="Map search")
    # Unpublished plugins are private to their owner.
    assert_error(
        await client.get(f"{API}/{mine['id']}", headers=other_headers), 404, "PLUGIN_NOT_FOUND"
    )
    assert (await client.get(f"{API}/market", headers=other_headers)).json()["total"] == 0

    for plugin, headers in ((mine, user_headers), (theirs, other_headers)):
        published = await client.post(
            f"{API}/{plugin['id']}/publish", json={"published": True}, headers=headers
        )
        assert published.status_code == 200 and published.json()["published_at"]
    market = (await client.get(f"{API}/market", headers=other_headers)).json()
    assert {p["name"] for p in market["items"]} == {"weather", "maps"} and market["total"] == 2
    searched = (await client.get(f"{API}/market", params={"q": "map"}, headers=user_headers)).json()
    assert [p["name"] for p in searched["items"]] == ["maps"]
    assert searched["items"][0]["is_owner"] is False
    paged = (
        await client.get(f"{API}/market", params={"page_size": 1}, headers=user_headers)
    ).json()
    assert len(paged["items"]) == 1 and paged["total"] == 2
    seen = await client.get(f"{API}/{mine['id']}", headers=other_headers)
    assert seen.status_code == 200 and seen.json()["is_owner"] is False

    # Only the owner changes, publishes or deletes it.
    for method, path, body in (
        ("PUT", "", {"description": "mine now"}),
        ("POST", "/publish", {"published": False}),
        ("DELETE", "", None),
    ):
        response = await client.request(
            method, f"{API}/{mine['id']}{path}", json=body, headers=other_headers
        )
        assert_error(response, 404, "PLUGIN_NOT_FOUND")

    hidden = await client.post(
        f"{API}/{mine['id']}/publish", json={"published": False}, headers=user_headers
    )
    assert hidden.json()["is_published"] is False and hidden.json()["published_at"] is None
    assert [
        p["name"] for p in (await client.get(f"{API}/market", headers=user_headers)).json()["items"]
    ] == ["maps"]


async def test_install_switch_and_uninstall(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    plugin = await create(client, user_headers)
    url = f"{API}/{plugin['id']}"
    # Not published: others cannot install it; the owner can, to try it.
    assert_error(
        await client.post(f"{url}/install", headers=other_headers), 404, "PLUGIN_NOT_FOUND"
    )
    own = await client.post(f"{url}/install", headers=user_headers)
    assert own.status_code == 201 and own.json()["installation"]["enabled"] is True
    await client.post(f"{url}/publish", json={"published": True}, headers=user_headers)

    installed = await client.post(
        f"{url}/install", json={"secret": "key-abcdef-123456"}, headers=other_headers
    )
    assert installed.status_code == 201, installed.text
    body = installed.json()
    assert body["install_count"] == 2
    assert body["installation"]["secret_set"] is True
    assert body["installation"]["secret_masked"] == "key****3456"
    assert "key-abcdef-123456" not in installed.text
    async with session_factory()() as session:
        rows = (await session.execute(select(PluginInstallation))).scalars().all()
        assert all("key-abcdef" not in (row.secret_encrypted or "") for row in rows)
    assert_error(
        await client.post(f"{url}/install", headers=other_headers), 409, "PLUGIN_ALREADY_INSTALLED"
    )
    listed = (await client.get(API, params={"scope": "installed"}, headers=other_headers)).json()
    assert [p["id"] for p in listed["items"]] == [plugin["id"]]
    assert (await client.get(API, headers=other_headers)).json()["total"] == 0

    # Unpublished later: the installation stays and is still visible to its installer.
    await client.post(f"{url}/publish", json={"published": False}, headers=user_headers)
    assert (await client.get(url, headers=other_headers)).status_code == 200

    off = await client.patch(f"{url}/install", json={"enabled": False}, headers=other_headers)
    assert off.status_code == 200 and off.json()["installation"]["enabled"] is False
    cleared = await client.patch(f"{url}/install", json={"secret": ""}, headers=other_headers)
    assert cleared.json()["installation"]["secret_set"] is False
    assert_error(
        await client.patch(f"{url}/install", json={}, headers=other_headers),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(
        await client.patch(f"{url}/install", json={"enabled": None}, headers=other_headers),
        422,
        "VALIDATION_ERROR",
    )

    assert (await client.delete(f"{url}/install", headers=other_headers)).status_code == 204
    assert_error(
        await client.delete(f"{url}/install", headers=other_headers), 404, "PLUGIN_NOT_FOUND"
    )
    assert (await client.get(url, headers=user_headers)).json()["install_count"] == 1
    assert (await client.delete(f"{url}/install", headers=user_headers)).status_code == 204
    assert_error(
        await client.delete(f"{url}/install", headers=user_headers), 404, "PLUGIN_NOT_INSTALLED"
    )
    assert_error(
        await client.patch(f"{url}/install", json={"enabled": True}, headers=user_headers),
        404,
        "PLUGIN_NOT_INSTALLED",
    )


async def test_same_name_from_two_authors_cannot_both_be_installed(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    mine = await create(client, user_headers)
    theirs = await create(client, other_headers)
    await client.post(
        f"{API}/{theirs['id']}/publish", json={"published": True}, headers=other_headers
    )
    assert (
        await client.post(f"{API}/{mine['id']}/install", headers=user_headers)
    ).status_code == 201
    clash = await client.post(f"{API}/{theirs['id']}/install", headers=user_headers)
    assert_error(clash, 409, "PLUGIN_NAME_CLASH")


async def test_installed_plugin_cannot_be_renamed_and_delete_removes_installations(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    plugin = await create(client, user_headers)
    url = f"{API}/{plugin['id']}"
    await client.post(f"{url}/publish", json={"published": True}, headers=user_headers)
    await client.post(f"{url}/install", headers=other_headers)
    assert_error(
        await client.put(url, json={"name": "climate"}, headers=user_headers), 409, "PLUGIN_IN_USE"
    )
    assert (await client.delete(url, headers=user_headers)).status_code == 204
    listed = (await client.get(API, params={"scope": "installed"}, headers=other_headers)).json()
    assert listed["total"] == 0
    tools = (await client.get(TOOLS, params={"kind": "plugin"}, headers=other_headers)).json()
    assert tools["total"] == 0


async def test_enabled_plugin_tools_are_in_the_catalogue_and_run_through_the_safe_client(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    loopback: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plugin = await create(client, other_headers, url=loopback.url)
    url = f"{API}/{plugin['id']}"
    await client.post(f"{url}/publish", json={"published": True}, headers=other_headers)
    name = "plugin__weather__forecast"
    # Before installing, the tool is not the user's.
    assert_error(await client.get(f"{TOOLS}/{name}", headers=user_headers), 404, "TOOL_NOT_FOUND")

    await client.post(f"{url}/install", json={"secret": "key-abcdef-123456"}, headers=user_headers)
    listed = (await client.get(TOOLS, params={"kind": "plugin"}, headers=user_headers)).json()
    assert [t["name"] for t in listed["items"]] == [name]
    tool = listed["items"][0]
    assert tool["category"] == "plugin" and tool["source"] == "plugin:weather@1.0.0"
    assert tool["secret_set"] is True and "key-abcdef" not in json.dumps(listed)
    searched = (await client.get(TOOLS, params={"search": "forecast"}, headers=user_headers)).json()
    assert name in [t["name"] for t in searched["items"]]
    categories = (await client.get(f"{TOOLS}/categories", headers=user_headers)).json()
    assert {"category": "plugin", "count": 1} in categories
    assert (await client.get(f"{TOOLS}/{name}", headers=user_headers)).json()["kind"] == "plugin"
    # The author did not install it: not in their catalogue.
    assert (await client.get(TOOLS, params={"kind": "plugin"}, headers=other_headers)).json()[
        "total"
    ] == 0

    # Loopback is a private address: the SSRF-safe client refuses it unless allowed.
    blocked = await client.post(
        f"{TOOLS}/{name}/use", json={"arguments": {"city": "Paris"}}, headers=user_headers
    )
    assert blocked.json()["ok"] is False and "URL_BLOCKED" in blocked.json()["error"]
    allow_loopback(monkeypatch)
    used = await client.post(
        f"{TOOLS}/{name}/use", json={"arguments": {"city": "Paris"}}, headers=user_headers
    )
    result = used.json()
    assert result["ok"] is True, result
    echoed = result["result"]["result"]["body"]
    assert echoed["path"] == "/forecast/Paris"
    # The installer's own credential is sent, and never handed back.
    assert echoed["headers"]["x-api-key"] == "****"

    await client.patch(f"{url}/install", json={"enabled": False}, headers=user_headers)
    assert (await client.get(TOOLS, params={"kind": "plugin"}, headers=user_headers)).json()[
        "total"
    ] == 0
    assert_error(
        await client.post(f"{TOOLS}/{name}/use", json={"arguments": {}}, headers=user_headers),
        404,
        "TOOL_NOT_FOUND",
    )


async def test_agents_use_installed_plugin_tools(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    loopback: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allow_loopback(monkeypatch)
    plugin = await create(client, user_headers, url=loopback.url)
    await client.post(
        f"{API}/{plugin['id']}/install", json={"secret": "k-123"}, headers=user_headers
    )
    name = "plugin__weather__forecast"
    agent = await client.post(
        "/api/v1/agents",
        json={"name": "forecaster", "system_prompt": "Use tools.", "include_tools": [name]},
        headers=user_headers,
    )
    agent_id = agent.json()["id"]
    fake_llm.script(
        [
            {"tool_calls": [{"id": "c1", "name": name, "arguments": {"city": "Rome"}}]},
            {"content": "Sunny in Rome."},
        ]
    )
    response = await client.post(
        f"/api/v1/agent-chat/{agent_id}/stream", json={"message": "weather?"}, headers=user_headers
    )
    events = parse_sse(response.text)
    offered = [t["function"]["name"] for t in fake_llm.requests[0]["tools"]]
    assert offered == [name]
    results = [d for n, d in events if n == "tool_result"]
    assert results and results[0]["error"] is None, events
    assert "/forecast/Rome" in json.dumps(results[0]["result"])
    assert events[-1][0] == "done" and events[-1][1]["content"] == "Sunny in Rome."

    # Disabled: the agent's tool is no longer available.
    await client.patch(
        f"{API}/{plugin['id']}/install", json={"enabled": False}, headers=user_headers
    )
    fake_llm.script([{"content": "unused"}])
    refused = await client.post(
        f"/api/v1/agent-chat/{agent_id}/stream", json={"message": "again"}, headers=user_headers
    )
    assert "UNKNOWN_TOOLS" in refused.text


async def test_plugins_need_a_token(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", API),
        ("POST", API),
        ("GET", f"{API}/market"),
        ("GET", f"{API}/x"),
        ("PUT", f"{API}/x"),
        ("DELETE", f"{API}/x"),
        ("POST", f"{API}/x/publish"),
        ("POST", f"{API}/x/install"),
        ("PATCH", f"{API}/x/install"),
        ("DELETE", f"{API}/x/install"),
    ):
        response = await client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.text)
