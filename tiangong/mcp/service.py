"""Registered MCP servers: CRUD, listing their tools, and calling one directly."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.errors import AppError, BadRequest, Conflict, Forbidden, NotFound, UpstreamError
from tiangong.mcp import repository
from tiangong.mcp.connect import connector, runtime_tools
from tiangong.mcp.models import McpServer
from tiangong.mcp.schemas import (
    McpServerCreate,
    McpServerList,
    McpServerRead,
    McpServerUpdate,
    McpToolRead,
)
from tiangong.net import BlockedURL, InvalidURL, check_url
from tiangong.runtime.tools import ToolContext, ToolInputError
from tiangong.runtime.tools.executor import run_tool
from tiangong.runtime.tools.mcp_tool import list_mcp_tools, qualified_name
from tiangong.security.crypto import encrypt
from tiangong.tools.schemas import ToolUseResult


def tool_reads(row: McpServer) -> list[McpToolRead]:
    return [
        McpToolRead(
            name=item["name"],
            qualified_name=qualified_name(row.name, item["name"]),
            description=item.get("description") or "",
            input_schema=item.get("input_schema") or {},
        )
        for item in row.tools
    ]


def to_read(row: McpServer) -> McpServerRead:
    return McpServerRead(
        id=row.id,
        name=row.name,
        description=row.description,
        transport=row.transport,
        url=row.url,
        header_names=row.header_names,
        command=row.command,
        args=row.args,
        enabled=row.enabled,
        timeout_s=row.timeout_s,
        tools=tool_reads(row),
        last_error=row.last_error,
        last_listed_at=row.last_listed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _set_headers(row: McpServer, headers: dict[str, str]) -> None:
    row.headers_encrypted = encrypt(json.dumps(headers)) if headers else None
    row.header_names = sorted(headers)


def _require_admin_for_stdio(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("Only administrators may run stdio MCP servers", code="ADMIN_REQUIRED")


async def _check_name(session: AsyncSession, user: User, name: str, exclude: str | None) -> None:
    if await repository.name_taken(session, user.id, name, exclude):
        raise Conflict(
            f"You already have an MCP server named '{name}'", code="MCP_SERVER_NAME_TAKEN"
        )


async def _owned_or_404(session: AsyncSession, user: User, server_id: str) -> McpServer:
    row = await repository.get_owned(session, user.id, server_id)
    if row is None:
        raise NotFound("MCP server not found", code="MCP_SERVER_NOT_FOUND")
    return row


async def list_servers(session: AsyncSession, user: User) -> McpServerList:
    rows = await repository.owned(session, user.id)
    return McpServerList(items=[to_read(row) for row in rows], total=len(rows))


async def get(session: AsyncSession, user: User, server_id: str) -> McpServerRead:
    return to_read(await _owned_or_404(session, user, server_id))


async def create(session: AsyncSession, user: User, data: McpServerCreate) -> McpServerRead:
    if data.transport == "stdio":
        _require_admin_for_stdio(user)
    else:
        assert data.url is not None
        await check_url(data.url)
    await _check_name(session, user, data.name, None)
    row = McpServer(
        owner_id=user.id,
        name=data.name,
        description=data.description,
        transport=data.transport,
        url=data.url,
        command=data.command,
        args=data.args,
        enabled=data.enabled,
        timeout_s=data.timeout_s,
        tools=[],
    )
    _set_headers(row, data.headers)
    session.add(row)
    await session.flush()
    return to_read(row)


async def update(
    session: AsyncSession, user: User, server_id: str, data: McpServerUpdate
) -> McpServerRead:
    row = await _owned_or_404(session, user, server_id)
    changes = data.model_dump(exclude_unset=True)
    http_only, stdio_only = {"url", "headers"}, {"command", "args"}
    wrong = (stdio_only if row.transport == "http" else http_only) & changes.keys()
    if wrong:
        raise BadRequest(
            f"A {row.transport} server has no {', '.join(sorted(wrong))}",
            code="MCP_TRANSPORT_MISMATCH",
        )
    if stdio_only & changes.keys():
        _require_admin_for_stdio(user)
    for key, value in changes.items():
        if value is None:
            raise BadRequest(f"{key} cannot be null", code="VALIDATION_ERROR")
    if "name" in changes:
        await _check_name(session, user, changes["name"], row.id)
    if "url" in changes:
        await check_url(changes["url"])
    if "headers" in changes:
        _set_headers(row, changes.pop("headers"))
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    await session.refresh(row)
    return to_read(row)


async def delete(session: AsyncSession, user: User, server_id: str) -> None:
    await session.delete(await _owned_or_404(session, user, server_id))
    await session.flush()


async def refresh(session: AsyncSession, user: User, server_id: str) -> list[McpToolRead]:
    """Connect, list the tools and store them. A failure is stored as last_error too."""
    row = await _owned_or_404(session, user, server_id)
    connect = connector(row, user)
    # No transaction stays open while the server answers.
    await session.commit()
    try:
        listed = await list_mcp_tools(connect, timeout_s=row.timeout_s)
    except AppError as exc:
        row.last_error = f"{exc.code}: {exc.message}"
        await session.commit()
        if isinstance(exc, BlockedURL | InvalidURL | Forbidden):
            raise
        raise UpstreamError(
            f"Listing the tools failed: {exc.message}", code="MCP_SERVER_FAILED"
        ) from exc
    row.tools = [
        {"name": t.name, "description": t.description, "input_schema": t.input_schema}
        for t in listed
    ]
    row.last_error, row.last_listed_at = None, utcnow()
    await session.flush()
    return tool_reads(row)


async def list_tools(session: AsyncSession, user: User, server_id: str) -> list[McpToolRead]:
    return tool_reads(await _owned_or_404(session, user, server_id))


async def call(
    session: AsyncSession, user: User, server_id: str, tool_name: str, arguments: dict[str, Any]
) -> ToolUseResult:
    """Call one listed tool directly; the user calling it is its approval."""
    row = await _owned_or_404(session, user, server_id)
    if not row.enabled:
        raise Conflict("This MCP server is disabled", code="MCP_SERVER_DISABLED")
    tool = next((t for t in runtime_tools(row, user) if t.remote_name == tool_name), None)
    if tool is None:
        raise NotFound(
            f"'{tool_name}' is not among the server's listed tools; refresh it first",
            code="MCP_TOOL_NOT_FOUND",
        )
    await session.commit()
    started = time.perf_counter()
    try:
        result = await run_tool(tool, arguments, ToolContext(user_id=user.id))
    except ToolInputError:
        raise
    except AppError as exc:
        return ToolUseResult(
            tool=tool.name,
            ok=False,
            error=f"{exc.code}: {exc.message}",
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
    return ToolUseResult(
        tool=tool.name,
        ok=True,
        result=result["result"],
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
