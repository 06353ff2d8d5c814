"""MCP tools: tools listed by an MCP server and called through the official SDK's client.

How a connection is opened (streamable HTTP through the SSRF-safe client, or a stdio process)
is the platform's business: it passes an `McpConnect`, so this module needs no network policy.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.client import Client, Transport
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent

from tiangong.errors import AppError
from tiangong.runtime.tools.base import JsonResult, SchemaTool, ToolError
from tiangong.runtime.tools.context import ToolContext

T = TypeVar("T")

# Opens a fresh transport to one server for one session.
McpConnect = Callable[[], Transport]

DEFAULT_TIMEOUT_S = 60.0
MAX_TOOLS = 200
_MAX_PAGES = 20
PREFIX = "mcp__"
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_NAME = 64


@dataclass(frozen=True)
class McpToolInfo:
    name: str
    description: str
    input_schema: dict[str, Any]


def qualified_name(server: str, tool: str) -> str:
    """`mcp__<server>__<tool>` as LLM APIs accept it (letters, digits, _ and -; at most 64).
    A name that must be shortened keeps a hash of the original, so two long names stay apart."""
    safe = _UNSAFE.sub("_", tool)
    name = f"{PREFIX}{server}__{safe}"
    if len(name) <= _MAX_NAME and safe == tool:
        return name
    digest = hashlib.sha256(tool.encode()).hexdigest()[:8]
    return f"{name[: _MAX_NAME - 9]}_{digest}"


def _leaf(exc: BaseException) -> BaseException:
    # The SDK runs transports in task groups, so one failure arrives wrapped in groups.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _as_error(exc: BaseException, timeout_s: float) -> AppError:
    leaf = _leaf(exc)
    if isinstance(leaf, AppError):
        return leaf
    if isinstance(leaf, TimeoutError):
        return ToolError(f"The MCP server did not answer within {timeout_s:g} s")
    if isinstance(leaf, MCPError):
        return ToolError(f"The MCP server refused the request: {leaf.message}")
    if isinstance(leaf, OSError):
        return ToolError(f"Cannot start or reach the MCP server: {leaf}")
    return ToolError(f"The MCP server failed: {leaf or type(leaf).__name__}")


async def _with_client(
    connect: McpConnect, timeout_s: float, op: Callable[[Client], Awaitable[T]]
) -> T:
    """One short session per operation: no connection outlives the call that needed it."""
    try:
        async with asyncio.timeout(timeout_s):
            async with Client(connect(), cache=None, read_timeout_seconds=timeout_s) as client:
                return await op(client)
    except Exception as exc:
        raise _as_error(exc, timeout_s) from None


async def list_mcp_tools(
    connect: McpConnect, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[McpToolInfo]:
    async def op(client: Client) -> list[McpToolInfo]:
        found: list[McpToolInfo] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            found += [
                McpToolInfo(tool.name, tool.description or "", tool.input_schema)
                for tool in page.tools
            ]
            cursor = page.next_cursor
            if cursor is None or len(found) >= MAX_TOOLS:
                break
        return found[:MAX_TOOLS]

    return await _with_client(connect, timeout_s, op)


def result_value(result: CallToolResult) -> Any:
    """Structured content when the tool gave it, else its text blocks joined."""
    text = "\n".join(
        block.text if isinstance(block, TextContent) else f"[{block.type} content]"
        for block in result.content
    )
    if result.is_error:
        raise ToolError(text or "The MCP tool reported an error")
    if result.structured_content is not None:
        return result.structured_content
    return text


async def call_mcp_tool(
    connect: McpConnect,
    name: str,
    arguments: dict[str, Any],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Any:
    async def op(client: Client) -> CallToolResult:
        return await client.call_tool(name, arguments)

    return result_value(await _with_client(connect, timeout_s, op))


class McpTool(SchemaTool):
    """One tool of one MCP server; `remote_name` is its name on that server."""

    def __init__(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        *,
        remote_name: str,
        connect: McpConnect,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        category: str = "mcp",
    ) -> None:
        super().__init__(name, description, category, parameters)
        self.remote_name = remote_name
        self.connect = connect
        self.timeout_s = timeout_s

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> JsonResult:
        result = await call_mcp_tool(self.connect, self.remote_name, args, timeout_s=self.timeout_s)
        return JsonResult(result=result)
