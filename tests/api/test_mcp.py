"""MCP with real SDK peers: an SDK server the platform registers and calls (streamable HTTP and
stdio), and the SDK's client against the platform's own /mcp endpoint."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import parse_sse
from tests.loopback import allow_loopback
from tiangong.db.engine import session_factory
from tiangong.mcp.models import McpServer

SERVERS = "/api/v1/mcp-servers"
DEMO_KEY = "k-demo-secret-123"
STDIO_SERVER = str(Path(__file__).resolve().parent.parent / "mcp_stdio_server.py")


class _RequireKey:
    """The demo server accepts only requests with our header, so headers must be sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        if scope["type"] == "http" and headers.get(b"x-demo-key") != DEMO_KEY.encode():
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"no key"})
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def demo_server() -> Iterator[str]:
    """A real MCP server built with the SDK, serving Streamable HTTP on 127.0.0.1."""
    import uvicorn
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("demo")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper() + "!"

    @server.tool()
    async def nap(seconds: float) -> str:
        """Sleep, then answer."""
        await asyncio.sleep(seconds)
        return "awake"

    @server.tool()
    def refuse(reason: str) -> str:
        """Always fails."""
        raise ToolError(f"refused: {reason}")

    app = server.streamable_http_app()
    app.add_middleware(_RequireKey)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    http = uvicorn.Server(config)
    threading.Thread(target=http.run, kwargs={"sockets": [sock]}, daemon=True).start()
    deadline = time.monotonic() + 10
    while not http.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    http.should_exit = True


def _http_body(url: str, **over: Any) -> dict[str, Any]:
    body = {"name": "demo", "url": url, "headers": {"X-Demo-Key": DEMO_KEY}}
    body.update(over)
    return body


async def _register(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], refresh: bool = True
) -> dict[str, Any]:
    response = await client.post(SERVERS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    server = dict(response.json())
    if refresh:
        listed = await client.post(f"{SERVERS}/{server['id']}/refresh", headers=headers)
        assert listed.status_code == 200, listed.text
    return server


# --- the platform as an MCP client: streamable HTTP -------------------------------------------


async def test_register_refresh_list_and_call_http_server(
    client: httpx.AsyncClient, user_headers: dict[str, str], demo_server: str, monkeypatch: Any
) -> None:
    allow_loopback(monkeypatch)
    created = await client.post(SERVERS, json=_http_body(demo_server), headers=user_headers)
    assert created.status_code == 201, created.text
    server = created.json()
    assert server["header_names"] == ["X-Demo-Key"] and server["tools"] == []
    assert DEMO_KEY not in created.text
    async with session_factory()() as session:
        row = (await session.execute(select(McpServer))).scalars().one()
        assert row.headers_encrypted and DEMO_KEY not in row.headers_encrypted

    listed = await client.post(f"{SERVERS}/{server['id']}/refresh", headers=user_headers)
    assert listed.status_code == 200, listed.text
    tools = {t["name"]: t for t in listed.json()}
    assert set(tools) == {"add", "shout", "nap", "refuse"}
    assert tools["add"]["qualified_name"] == "mcp__demo__add"
    assert tools["add"]["description"] == "Add two integers."
    assert tools["add"]["input_schema"]["required"] == ["a", "b"]

    stored = (await client.get(f"{SERVERS}/{server['id']}", headers=user_headers)).json()
    assert stored["last_listed_at"] and stored["last_error"] is None
    assert {t["name"] for t in stored["tools"]} == set(tools)
    again = await client.get(f"{SERVERS}/{server['id']}/tools", headers=user_headers)
    assert again.json() == listed.json()

    called = await client.post(
        f"{SERVERS}/{server['id']}/tools/add/call",
        json={"arguments": {"a": 2, "b": 3}},
        headers=user_headers,
    )
    assert called.status_code == 200, called.text
    assert called.json()["ok"] is True
    assert called.json()["result"] == {"result": 5}
    shout = await client.post(
        f"{SERVERS}/{server['id']}/tools/shout/call",
        json={"arguments": {"text": "hi"}},
        headers=user_headers,
    )
    assert shout.json()["result"] == {"result": "HI!"}


async def test_call_checks_arguments_and_tool_names(
    client: httpx.AsyncClient, user_headers: dict[str, str], demo_server: str, monkeypatch: Any
) -> None:
    allow_loopback(monkeypatch)
    server = await _register(client, user_headers, _http_body(demo_server))
    bad = await client.post(
        f"{SERVERS}/{server['id']}/tools/add/call",
        json={"arguments": {"a": "two"}},
        headers=user_headers,
    )
    assert bad.status_code == 422
    assert bad.json()["error"] == "TOOL_INPUT_INVALID"
    unknown = await client.post(
        f"{SERVERS}/{server['id']}/tools/nope/call", json={}, headers=user_headers
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "MCP_TOOL_NOT_FOUND"


async def test_tool_errors_and_timeouts_come_back_as_failed_results(
    client: httpx.AsyncClient, user_headers: dict[str, str], demo_server: str, monkeypatch: Any
) -> None:
    allow_loopback(monkeypatch)
    server = await _register(client, user_headers, _http_body(demo_server, timeout_s=0.5))
    refused = await client.post(
        f"{SERVERS}/{server['id']}/tools/refuse/call",
        json={"arguments": {"reason": "no"}},
        headers=user_headers,
    )
    assert refused.json()["ok"] is False and "refused: no" in refused.json()["error"]
    started = time.monotonic()
    slow = await client.post(
        f"{SERVERS}/{server['id']}/tools/nap/call",
        json={"arguments": {"seconds": 5}},
        headers=user_headers,
    )
    assert time.monotonic() - started < 3
    assert slow.json()["ok"] is False and "did not answer within 0.5 s" in slow.json()["error"]


async def test_agent_uses_an_mcp_tool_like_any_other(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    demo_server: str,
    monkeypatch: Any,
) -> None:
    allow_loopback(monkeypatch)
    await _register(client, user_headers, _http_body(demo_server))
    agent = await client.post(
        "/api/v1/agents",
        json={"name": "adder", "include_tools": ["mcp__demo__add"], "iteration_limit": 3},
        headers=user_headers,
    )
    assert agent.status_code == 201, agent.text
    fake_llm.script(
        [
            {
                "tool_calls": [
                    {"id": "c1", "name": "mcp__demo__add", "arguments": {"a": 20, "b": 22}}
                ]
            },
            {"content": "The sum is 42."},
        ]
    )
    response = await client.post(
        f"/api/v1/agent-chat/{agent.json()['id']}/stream",
        json={"message": "what is 20 + 22?"},
        headers=user_headers,
    )
    assert response.status_code == 200, response.text
    events = parse_sse(response.text)
    call = next(data for name, data in events if name == "tool_call")
    assert call["name"] == "mcp__demo__add" and call["arguments"] == {"a": 20, "b": 22}
    result = next(data for name, data in events if name == "tool_result")
    assert result["error"] is None
    assert result["result"] == {"result": {"result": 42}}
    assert events[-1][0] == "done"
    offered = fake_llm.requests[0]["tools"]
    assert [t["function"]["name"] for t in offered] == ["mcp__demo__add"]
    tool_message = fake_llm.requests[-1]["messages"][-1]
    assert tool_message["role"] == "tool" and "42" in tool_message["content"]


async def test_agent_with_unlisted_or_disabled_mcp_tool_is_refused(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    demo_server: str,
    monkeypatch: Any,
) -> None:
    allow_loopback(monkeypatch)
    server = await _register(client, user_headers, _http_body(demo_server))
    for include in (["mcp__demo__nope"], ["mcp__other__add"]):
        agent = await client.post(
            "/api/v1/agents", json={"name": "x", "include_tools": include}, headers=user_headers
        )
        reply = await client.post(
            f"/api/v1/agent-chat/{agent.json()['id']}", json={"message": "hi"}, headers=user_headers
        )
        assert reply.status_code == 400 and reply.json()["error"] == "UNKNOWN_TOOLS"
    await client.put(f"{SERVERS}/{server['id']}", json={"enabled": False}, headers=user_headers)
    agent = await client.post(
        "/api/v1/agents",
        json={"name": "y", "include_tools": ["mcp__demo__add"]},
        headers=user_headers,
    )
    reply = await client.post(
        f"/api/v1/agent-chat/{agent.json()['id']}", json={"message": "hi"}, headers=user_headers
    )
    assert reply.json()["error"] == "UNKNOWN_TOOLS"
    disabled = await client.post(
        f"{SERVERS}/{server['id']}/tools/add/call", json={}, headers=user_headers
    )
    assert disabled.status_code == 409 and disabled.json()["error"] == "MCP_SERVER_DISABLED"


async def test_loopback_url_is_refused_without_the_allowlist(
    client: httpx.AsyncClient, user_headers: dict[str, str], demo_server: str, monkeypatch: Any
) -> None:
    refused = await client.post(SERVERS, json=_http_body(demo_server), headers=user_headers)
    assert refused.status_code == 400 and refused.json()["error"] == "URL_BLOCKED"
    metadata = await client.post(
        SERVERS, json=_http_body("http://169.254.169.254/mcp"), headers=user_headers
    )
    assert metadata.status_code == 400 and metadata.json()["error"] == "URL_BLOCKED"

    allow_loopback(monkeypatch)
    server = await _register(client, user_headers, _http_body(demo_server))
    monkeypatch.undo()  # the allow-list closes again: every use is checked afresh
    again = await client.post(f"{SERVERS}/{server['id']}/refresh", headers=user_headers)
    assert again.status_code == 400 and again.json()["error"] == "URL_BLOCKED"
    stored = (await client.get(f"{SERVERS}/{server['id']}", headers=user_headers)).json()
    assert stored["last_error"].startswith("URL_BLOCKED")
    called = await client.post(
        f"{SERVERS}/{server['id']}/tools/add/call",
        json={"arguments": {"a": 1, "b": 2}},
        headers=user_headers,
    )
    assert called.json()["ok"] is False and called.json()["error"].startswith("URL_BLOCKED")
    moved = await client.put(
        f"{SERVERS}/{server['id']}", json={"url": "http://127.0.0.2/mcp"}, headers=user_headers
    )
    assert moved.status_code == 400 and moved.json()["error"] == "URL_BLOCKED"


async def test_refresh_failure_is_reported_and_stored(
    client: httpx.AsyncClient, user_headers: dict[str, str], demo_server: str, monkeypatch: Any
) -> None:
    allow_loopback(monkeypatch)
    body = _http_body(demo_server, headers={"X-Demo-Key": "wrong"})
    server = await _register(client, user_headers, body, refresh=False)
    failed = await client.post(f"{SERVERS}/{server['id']}/refresh", headers=user_headers)
    assert failed.status_code == 502 and failed.json()["error"] == "MCP_SERVER_FAILED"
    stored = (await client.get(f"{SERVERS}/{server['id']}", headers=user_headers)).json()
    assert stored["last_error"] and stored["tools"] == []

    fixed = await client.put(
        f"{SERVERS}/{server['id']}",
        json={"headers": {"X-Demo-Key": DEMO_KEY}},
        headers=user_headers,
    )
    assert fixed.status_code == 200 and fixed.json()["header_names"] == ["X-Demo-Key"]
    ok = await client.post(f"{SERVERS}/{server['id']}/refresh", headers=user_headers)
    assert ok.status_code == 200 and len(ok.json()) == 4
    assert (await client.get(f"{SERVERS}/{server['id']}", headers=user_headers)).json()[
        "last_error"
    ] is None


async def test_update_rename_conflict_and_delete(
    client: httpx.AsyncClient, user_headers: dict[str, str], demo_server: str, monkeypatch: Any
) -> None:
    allow_loopback(monkeypatch)
    first = await _register(client, user_headers, _http_body(demo_server), refresh=False)
    second = await _register(
        client, user_headers, _http_body(demo_server, name="second"), refresh=False
    )
    taken = await client.post(SERVERS, json=_http_body(demo_server), headers=user_headers)
    assert taken.status_code == 409 and taken.json()["error"] == "MCP_SERVER_NAME_TAKEN"
    clash = await client.put(
        f"{SERVERS}/{second['id']}", json={"name": "demo"}, headers=user_headers
    )
    assert clash.status_code == 409
    renamed = await client.put(
        f"{SERVERS}/{second['id']}",
        json={"name": "renamed", "description": "d", "headers": {}},
        headers=user_headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "renamed" and renamed.json()["header_names"] == []
    mismatch = await client.put(
        f"{SERVERS}/{first['id']}", json={"command": "/bin/sh"}, headers=user_headers
    )
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "MCP_TRANSPORT_MISMATCH"
    listed = (await client.get(SERVERS, headers=user_headers)).json()
    assert listed["total"] == 2 and [s["name"] for s in listed["items"]] == ["demo", "renamed"]
    gone = await client.delete(f"{SERVERS}/{first['id']}", headers=user_headers)
    assert gone.status_code == 204
    assert (await client.get(f"{SERVERS}/{first['id']}", headers=user_headers)).status_code == 404


# --- the platform as an MCP client: stdio ------------------------------------------------------


async def test_admin_registers_a_stdio_server_and_uses_its_tools(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {
        "name": "local",
        "transport": "stdio",
        "command": sys.executable,
        "args": [STDIO_SERVER],
    }
    server = await _register(client, admin_headers, body)
    tools = (await client.get(f"{SERVERS}/{server['id']}/tools", headers=admin_headers)).json()
    assert {t["qualified_name"] for t in tools} == {"mcp__local__multiply", "mcp__local__whisper"}
    called = await client.post(
        f"{SERVERS}/{server['id']}/tools/whisper/call",
        json={"arguments": {"text": "QUIET"}},
        headers=admin_headers,
    )
    assert called.json() == {**called.json(), "ok": True, "result": {"result": "quiet"}}


async def test_only_admins_may_add_stdio_servers(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    body = {
        "name": "local",
        "transport": "stdio",
        "command": sys.executable,
        "args": [STDIO_SERVER],
    }
    response = await client.post(SERVERS, json=body, headers=user_headers)
    assert response.status_code == 403 and response.json()["error"] == "ADMIN_REQUIRED"
    assert (await client.get(SERVERS, headers=user_headers)).json()["total"] == 0


async def test_stdio_server_that_cannot_start_is_reported(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"name": "broken", "transport": "stdio", "command": "/nonexistent/mcp-server"}
    server = await _register(client, admin_headers, body, refresh=False)
    failed = await client.post(f"{SERVERS}/{server['id']}/refresh", headers=admin_headers)
    assert failed.status_code == 502 and failed.json()["error"] == "MCP_SERVER_FAILED"


# --- the platform as an MCP server -------------------------------------------------------------


def _mcp_client(url: str, headers: dict[str, str] | None, mode: str = "auto") -> Client:
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30))
    return Client(streamable_http_client(url + "/mcp", http_client=http), cache=None, mode=mode)


async def test_platform_serves_agents_and_tools_over_mcp(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    live_url: str,
) -> None:
    agent = await client.post(
        "/api/v1/agents", json={"name": "helper", "description": "helps"}, headers=user_headers
    )
    agent_id = agent.json()["id"]
    other = await client.post("/api/v1/agents", json={"name": "theirs"}, headers=other_headers)
    fake_llm.script([{"content": "Hello from the agent"}, {"content": "Second answer"}])

    async with _mcp_client(live_url, user_headers) as mcp:
        names = {tool.name for tool in (await mcp.list_tools()).tools}
        assert names == {"list_agents", "chat_with_agent", "list_tools", "use_tool"}

        agents = await mcp.call_tool("list_agents", {})
        assert not agents.is_error
        assert agents.structured_content == {
            "result": [
                {"id": agent_id, "name": "helper", "description": "helps", "status": "draft"}
            ]
        }

        first = await mcp.call_tool("chat_with_agent", {"agent_id": agent_id, "message": "hi"})
        assert not first.is_error, first.content
        assert first.structured_content["reply"] == "Hello from the agent"
        session_id = first.structured_content["session_id"]
        second = await mcp.call_tool(
            "chat_with_agent", {"agent_id": agent_id, "message": "more", "session_id": session_id}
        )
        assert second.structured_content == {"reply": "Second answer", "session_id": session_id}
        assert [m["role"] for m in fake_llm.requests[-1]["messages"]][-3:] == [
            "user",
            "assistant",
            "user",
        ]

        theirs = await mcp.call_tool(
            "chat_with_agent", {"agent_id": other.json()["id"], "message": "hi"}
        )
        assert theirs.is_error and "AGENT_NOT_FOUND" in theirs.content[0].text

        catalogue = await mcp.call_tool("list_tools", {"search": "hash"})
        assert "hash_text" in {t["name"] for t in catalogue.structured_content["result"]}
        used = await mcp.call_tool(
            "use_tool", {"name": "hash_text", "arguments": {"text": "abc", "algorithm": "md5"}}
        )
        assert not used.is_error, used.content
        assert "900150983cd24fb0d6963f7d28e17f72" in str(used.structured_content["result"])
        missing = await mcp.call_tool("use_tool", {"name": "no_such_tool"})
        assert missing.is_error and "TOOL_NOT_FOUND" in missing.content[0].text


async def test_platform_mcp_server_speaks_the_handshake_protocol_too(
    client: httpx.AsyncClient, user_headers: dict[str, str], live_url: str
) -> None:
    await client.post("/api/v1/agents", json={"name": "helper"}, headers=user_headers)
    async with _mcp_client(live_url, user_headers, mode="legacy") as mcp:
        assert mcp.protocol_version < "2026"
        agents = await mcp.call_tool("list_agents", {})
        assert [a["name"] for a in agents.structured_content["result"]] == ["helper"]


async def test_mcp_endpoint_requires_a_valid_token(
    client: httpx.AsyncClient, user_headers: dict[str, str], live_url: str
) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    bare = await client.post("/mcp", json=hello)
    assert bare.status_code == 401 and bare.json()["error"] == "NOT_AUTHENTICATED"
    assert bare.headers["www-authenticate"] == "Bearer"
    forged = await client.post("/mcp", json=hello, headers={"Authorization": "Bearer nope"})
    assert forged.status_code == 401 and forged.json()["error"] == "INVALID_TOKEN"
    with pytest.raises(Exception):  # noqa: B017 - the SDK reports the 401 its own way
        async with _mcp_client(live_url, None) as mcp:
            await mcp.list_tools()


# --- 401 / 404 / 422 on every /mcp-servers endpoint ---------------------------------------------

_ENDPOINTS = [
    ("GET", ""),
    ("POST", ""),
    ("GET", "/{id}"),
    ("PUT", "/{id}"),
    ("DELETE", "/{id}"),
    ("POST", "/{id}/refresh"),
    ("GET", "/{id}/tools"),
    ("POST", "/{id}/tools/add/call"),
]


@pytest.mark.parametrize(("method", "path"), _ENDPOINTS)
async def test_every_endpoint_needs_a_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, SERVERS + path.format(id="x"), json={})
    assert response.status_code == 401


async def test_another_users_server_is_not_found(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    demo_server: str,
    monkeypatch: Any,
) -> None:
    allow_loopback(monkeypatch)
    server = await _register(client, user_headers, _http_body(demo_server))
    bodies = {"PUT": {"enabled": False}, "POST": {"arguments": {"a": 1, "b": 2}}}
    for method, path in _ENDPOINTS[2:]:
        url = SERVERS + path.format(id=server["id"])
        response = await client.request(method, url, json=bodies.get(method), headers=other_headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "MCP_SERVER_NOT_FOUND"
    assert (await client.get(SERVERS, headers=other_headers)).json()["total"] == 0
    assert (await client.get(f"{SERVERS}/{server['id']}", headers=user_headers)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": "bad name", "url": "https://example.com/mcp"},
        {"name": "x" * 33, "url": "https://example.com/mcp"},
        {"name": "nourl"},
        {"name": "both", "url": "https://example.com/mcp", "command": "/bin/sh"},
        {"name": "h", "url": "https://example.com/mcp", "headers": {"Host": "evil"}},
        {"name": "h", "url": "https://example.com/mcp", "headers": {"X-A": "a\r\nB: c"}},
        {"name": "s", "transport": "stdio"},
        {"name": "t", "transport": "ftp", "url": "https://example.com/mcp"},
        {"name": "u", "url": "https://example.com/mcp", "timeout_s": 0},
    ],
)
async def test_create_rejects_bad_input(
    client: httpx.AsyncClient, user_headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post(SERVERS, json=body, headers=user_headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "VALIDATION_ERROR"


async def test_update_and_call_reject_bad_input(
    client: httpx.AsyncClient, user_headers: dict[str, str], demo_server: str, monkeypatch: Any
) -> None:
    allow_loopback(monkeypatch)
    server = await _register(client, user_headers, _http_body(demo_server))
    url = f"{SERVERS}/{server['id']}"
    assert (await client.put(url, json={}, headers=user_headers)).status_code == 422
    assert (await client.put(url, json={"name": "a/b"}, headers=user_headers)).status_code == 422
    nulled = await client.put(url, json={"name": None}, headers=user_headers)
    assert nulled.status_code == 400
    wrong = await client.post(
        f"{url}/tools/add/call", json={"arguments": [1]}, headers=user_headers
    )
    assert wrong.status_code == 422
    not_url = await client.post(
        SERVERS, json=_http_body("ftp://example.com/mcp", name="ftp"), headers=user_headers
    )
    assert not_url.status_code == 400 and not_url.json()["error"] == "URL_BLOCKED"


def test_qualified_names_fit_llm_tool_name_rules() -> None:
    from tiangong.runtime.tools.mcp_tool import qualified_name

    assert qualified_name("demo", "add") == "mcp__demo__add"
    long_a, long_b = qualified_name("s" * 32, "x" * 60 + "a"), qualified_name("s" * 32, "x" * 61)
    dotted, underscored = qualified_name("demo", "files.read"), qualified_name("demo", "files_read")
    for name in (long_a, long_b, dotted):
        assert len(name) <= 64 and re.fullmatch(r"[a-zA-Z0-9_-]+", name)
    assert long_a != long_b and dotted != underscored
