"""How the platform reaches a registered MCP server, and its stored tools as runnable tools."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.client._transport import TransportStreams
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import Forbidden
from tiangong.mcp import repository
from tiangong.mcp.models import McpServer
from tiangong.net import check_url
from tiangong.net.mcp_http import safe_mcp_http_client
from tiangong.runtime.tools import Tool
from tiangong.runtime.tools.mcp_tool import McpConnect, McpTool, qualified_name
from tiangong.security.crypto import decrypt


def stored_headers(row: McpServer) -> dict[str, str]:
    return dict(json.loads(decrypt(row.headers_encrypted))) if row.headers_encrypted else {}


@asynccontextmanager
async def _http(url: str, headers: dict[str, str]) -> AsyncIterator[TransportStreams]:
    # A URL that was fine when saved is checked again at every use (DNS may have changed);
    # SafeTransport2 then checks every connection the SDK opens, redirects included.
    await check_url(url)
    async with (
        safe_mcp_http_client(headers=headers) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


@asynccontextmanager
async def _stdio(params: StdioServerParameters, allowed: bool) -> AsyncIterator[TransportStreams]:
    # Starting a process is an administrator's power; an owner who lost it loses their servers.
    if not allowed:
        raise Forbidden("stdio MCP servers run only for administrators", code="ADMIN_REQUIRED")
    async with stdio_client(params) as streams:
        yield streams


def connector(row: McpServer, owner: User) -> McpConnect:
    """Opens a fresh transport per use. Secrets are decrypted here, once, not stored elsewhere."""
    if row.transport == "stdio":
        params = StdioServerParameters(command=row.command or "", args=list(row.args))
        allowed = owner.is_admin
        return lambda: _stdio(params, allowed)
    url, headers = row.url or "", stored_headers(row)
    return lambda: _http(url, headers)


def runtime_tools(row: McpServer, owner: User) -> list[McpTool]:
    """The server's last listed tools, named mcp__<server>__<tool>."""
    connect = connector(row, owner)
    tools: dict[str, McpTool] = {}
    for item in row.tools:
        name = qualified_name(row.name, item["name"])
        tools.setdefault(
            name,
            McpTool(
                name,
                item.get("description") or f"{item['name']} (MCP server {row.name})",
                item.get("input_schema") or {},
                remote_name=item["name"],
                connect=connect,
                timeout_s=row.timeout_s,
            ),
        )
    return list(tools.values())


async def tools_for(session: AsyncSession, user: User) -> dict[str, Tool]:
    """Every tool of the user's enabled servers, by qualified name."""
    found: dict[str, Tool] = {}
    for row in await repository.enabled_owned(session, user.id):
        for tool in runtime_tools(row, user):
            found.setdefault(tool.name, tool)
    return found
