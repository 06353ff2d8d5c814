"""/mcp-servers: register MCP servers, list their tools, call one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.mcp import service
from tiangong.mcp.schemas import (
    McpServerCreate,
    McpServerList,
    McpServerRead,
    McpServerUpdate,
    McpToolCall,
    McpToolRead,
)
from tiangong.tools.schemas import ToolUseResult

router = APIRouter(prefix="/mcp-servers", tags=["mcp"])


@router.get("", response_model=McpServerList)
async def list_servers(session: SessionDep, user: CurrentUser) -> McpServerList:
    return await service.list_servers(session, user)


@router.post("", response_model=McpServerRead, status_code=201)
async def create_server(
    data: McpServerCreate, session: SessionDep, user: CurrentUser
) -> McpServerRead:
    """stdio servers start a local process, so only administrators may add them."""
    return await service.create(session, user, data)


@router.get("/{server_id}", response_model=McpServerRead)
async def get_server(server_id: str, session: SessionDep, user: CurrentUser) -> McpServerRead:
    return await service.get(session, user, server_id)


@router.put("/{server_id}", response_model=McpServerRead)
async def update_server(
    server_id: str, data: McpServerUpdate, session: SessionDep, user: CurrentUser
) -> McpServerRead:
    return await service.update(session, user, server_id, data)


@router.delete("/{server_id}", status_code=204)
async def delete_server(server_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete(session, user, server_id)
    return Response(status_code=204)


@router.post("/{server_id}/refresh", response_model=list[McpToolRead])
async def refresh_tools(
    server_id: str, session: SessionDep, user: CurrentUser
) -> list[McpToolRead]:
    """Connect to the server, list its tools and store them."""
    return await service.refresh(session, user, server_id)


@router.get("/{server_id}/tools", response_model=list[McpToolRead])
async def list_tools(server_id: str, session: SessionDep, user: CurrentUser) -> list[McpToolRead]:
    """The tools from the last refresh, with the names agents use in include_tools."""
    return await service.list_tools(session, user, server_id)


@router.post("/{server_id}/tools/{tool_name}/call", response_model=ToolUseResult)
async def call_tool(
    server_id: str,
    tool_name: Annotated[str, Path(max_length=200)],
    data: McpToolCall,
    session: SessionDep,
    user: CurrentUser,
) -> ToolUseResult:
    return await service.call(session, user, server_id, tool_name, data.arguments)
