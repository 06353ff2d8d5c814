"""The platform as an MCP server: /mcp speaks Streamable HTTP through the official SDK.

Every request must carry `Authorization: Bearer <platform JWT>`; `McpEndpoint` checks it (and
that the account is active) before the SDK sees the request, and answers 401 otherwise. The
tools act as that user:

  list_agents      their agents: id, name, description, status
  chat_with_agent  one chat turn (agent_id, message, optional session_id) -> reply, session_id
  list_tools       the builtin and custom tools that use_tool can run, with input schemas
  use_tool         run one of them by name with arguments (as POST /tools/{id}/use does)

The SDK runs stateless with JSON responses: no MCP session lives in one API process, so any
process can answer any request, and each tool call opens its own database session.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError as McpToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from tiangong import __version__
from tiangong.agents import service as agents_service
from tiangong.auth import repository as auth_repository
from tiangong.auth.models import User
from tiangong.chat import service as chat_service
from tiangong.chat.schemas import MAX_MESSAGE, ChatRequest
from tiangong.db.engine import session_factory
from tiangong.errors import AppError, NotFound, Unauthorized
from tiangong.runtime.tools import BUILTIN
from tiangong.security.tokens import decode_access_token
from tiangong.tools import repository as tools_repository
from tiangong.tools import service as tools_service
from tiangong.tools.schemas import ToolUseResult

# Set per HTTP request by McpEndpoint; the SDK carries it to the tool handler it dispatches.
_user_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("mcp_user_id", default=None)


class AgentSummary(BaseModel):
    id: str
    name: str
    description: str
    status: str


class ChatAnswer(BaseModel):
    reply: str
    session_id: str


class ToolSummary(BaseModel):
    name: str
    description: str
    kind: str
    input_schema: dict[str, Any]


@asynccontextmanager
async def _as_user() -> AsyncIterator[tuple[AsyncSession, User]]:
    """A database session of its own and the caller, committed at the end. Platform errors
    become MCP tool errors, which the client sees as isError results."""
    user_id = _user_id.get()
    async with session_factory()() as session:
        user = await session.get(User, user_id) if user_id else None
        if user is None or not user.is_active:
            raise McpToolError("Not authenticated")
        try:
            yield session, user
            await session.commit()
        except AppError as exc:
            await session.rollback()
            raise McpToolError(f"{exc.code}: {exc.message}") from exc


async def list_agents(
    search: Annotated[str | None, Field(max_length=100)] = None,
) -> list[AgentSummary]:
    """List the agents you can chat with."""
    async with _as_user() as (session, user):
        agents = await agents_service.list_agents(
            session, user, page=1, page_size=200, search=search
        )
    return [
        AgentSummary(id=a.id, name=a.name, description=a.description or "", status=a.status)
        for a in agents.items
    ]


async def chat_with_agent(
    agent_id: Annotated[str, Field(min_length=1, max_length=36)],
    message: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE)],
    session_id: Annotated[str | None, Field(max_length=36)] = None,
) -> ChatAnswer:
    """Send a message to an agent and get its reply. Pass the returned session_id to continue
    the same conversation."""
    async with _as_user() as (session, user):
        request = ChatRequest(message=message, session_id=session_id)
        turn = await chat_service.start_agent_turn(session, user, agent_id, request)
        answer = chat_service.reply(turn, await turn.result(), agent_id, streamlined=True)
    return ChatAnswer(reply=answer.reply, session_id=answer.session_id)


async def list_tools(
    search: Annotated[str | None, Field(max_length=100)] = None,
) -> list[ToolSummary]:
    """List the builtin and custom tools that use_tool can run, with their input schemas."""
    async with _as_user() as (session, user):
        found = await tools_service.list_tools(
            session, user, category=None, search=search, kind=None, page=1, page_size=1000
        )
    return [
        ToolSummary(
            name=t.name, description=t.description, kind=t.kind, input_schema=t.input_schema
        )
        for t in found.items
        if t.enabled
    ]


async def use_tool(
    name: Annotated[str, Field(min_length=1, max_length=64)],
    arguments: dict[str, Any] | None = None,
) -> ToolUseResult:
    """Run a builtin or custom tool by name with the given arguments."""
    async with _as_user() as (session, user):
        tool_id = name
        if BUILTIN.get(name) is None:
            rows = await tools_repository.by_names(session, user.id, [name])
            if not rows:
                raise NotFound(f"No tool named '{name}'", code="TOOL_NOT_FOUND")
            tool_id = rows[0].id
        outcome = await tools_service.use(session, user, tool_id, arguments or {})
    if not outcome.ok:
        raise McpToolError(outcome.error or "The tool failed")
    return outcome


def build_server() -> MCPServer:
    server = MCPServer(
        "tiangong",
        version=__version__,
        instructions="Tiangong agent platform: chat with your agents and run your tools.",
    )
    for tool in (list_agents, chat_with_agent, list_tools, use_tool):
        server.add_tool(tool)
    return server


async def _authenticate(scope: Scope) -> str:
    """The caller's user id. Raises Unauthorized as the platform API would."""
    header = Request(scope).headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Missing bearer token", code="NOT_AUTHENTICATED")
    user_id = decode_access_token(token.strip())
    async with session_factory()() as session:
        user = await auth_repository.get_by_id(session, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Invalid token", code="INVALID_TOKEN")
    return user_id


class McpEndpoint:
    """The ASGI app behind /mcp. `run()` belongs in the application's lifespan."""

    def __init__(self) -> None:
        self._manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            user_id = await _authenticate(scope)
        except Unauthorized as exc:
            body = {"error": exc.code, "message": exc.message}
            headers = {"WWW-Authenticate": "Bearer"}
            await JSONResponse(body, status_code=401, headers=headers)(scope, receive, send)
            return
        if self._manager is None:
            body = {"error": "SERVICE_UNAVAILABLE", "message": "The MCP server is not running"}
            await JSONResponse(body, status_code=503)(scope, receive, send)
            return
        token = _user_id.set(user_id)
        try:
            await self._manager.handle_request(scope, receive, send)
        finally:
            _user_id.reset(token)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run a fresh SDK session manager (one can run only once). It gets a task of its own
        because its task group must be left by the task that entered it, which a lifespan's
        caller (a test fixture, say) does not promise."""
        server = build_server()
        # Host checks guard against DNS rebinding of unauthenticated local servers; every
        # request here needs a bearer token, and a Host allow-list would break proxies.
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = server.session_manager
        started, stop = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(serve())
        ready = asyncio.create_task(started.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            ready.cancel()
            await task
        self._manager = manager
        try:
            yield
        finally:
            self._manager = None
            stop.set()
            await task
