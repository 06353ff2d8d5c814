"""How the platform equips tools: the per-user context, and a user's tools by name."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin catalogue
from tiangong.auth.models import User
from tiangong.config import get_settings
from tiangong.errors import AppError, BadRequest
from tiangong.llm_logs.recorder import recorder
from tiangong.mcp import connect as mcp_connect
from tiangong.model_configs.service import ResolvedModel, resolve
from tiangong.net import SafeHttpClient
from tiangong.plugins import catalog as plugin_catalog
from tiangong.runtime.llm import ChatMessage, ChatParams
from tiangong.runtime.sandbox import SandboxRunner
from tiangong.runtime.tools import BUILTIN, Tool, ToolContext
from tiangong.runtime.tools.code_tool import CodeTool, CodeToolConfig
from tiangong.runtime.tools.context import CallAgent
from tiangong.runtime.tools.http_tool import HttpTool, HttpToolConfig
from tiangong.runtime.tools.mcp_tool import PREFIX as MCP_PREFIX
from tiangong.security.crypto import decrypt
from tiangong.tools import repository
from tiangong.tools.models import CustomTool


@lru_cache
def sandbox() -> SandboxRunner:
    return SandboxRunner()


@lru_cache
def http_client() -> SafeHttpClient:
    return SafeHttpClient()


def workspace(user_id: str) -> Path:
    path = get_settings().data_dir / "workspaces" / user_id
    path.mkdir(parents=True, exist_ok=True)
    return path


class ModelText:
    """TextModel over a resolved model config, for tools such as summarise and translate."""

    def __init__(self, model: ResolvedModel, user_id: str, agent_id: str | None) -> None:
        self._model = model
        self._user_id = user_id
        self._agent_id = agent_id

    async def complete(
        self, prompt: str, *, system: str | None = None, max_tokens: int | None = None
    ) -> str:
        messages = [ChatMessage(role="system", content=system)] if system else []
        messages.append(ChatMessage(role="user", content=prompt))
        params = ChatParams(
            model=self._model.model_name,
            temperature=self._model.temperature,
            max_tokens=max_tokens or self._model.max_tokens,
        )
        on_call = recorder(user_id=self._user_id, agent_id=self._agent_id)
        async with self._model.client(on_call=on_call) as client:
            return (await client.chat(messages, params)).text


async def tool_context(
    session: AsyncSession,
    user: User,
    *,
    agent_id: str | None = None,
    conversation_id: str | None = None,
    call_agent: CallAgent | None = None,
    depth: int = 0,
) -> ToolContext:
    try:
        llm: ModelText | None = ModelText(await resolve(session, user), user.id, agent_id)
    except AppError:
        # No model configured: LLM-backed tools say so when called.
        llm = None
    return ToolContext(
        user_id=user.id,
        agent_id=agent_id,
        conversation_id=conversation_id,
        workspace=workspace(user.id),
        http=http_client(),
        code=sandbox(),
        llm=llm,
        call_agent=call_agent,
        extras={"depth": depth},
    )


def runtime_tool(row: CustomTool) -> Tool:
    """A stored custom tool as a runnable one (credential decrypted only here)."""
    secret = decrypt(row.secret_encrypted) if row.secret_encrypted else None
    if row.kind == "http":
        return HttpTool(
            row.name,
            row.description,
            row.input_schema,
            HttpToolConfig.model_validate(row.config),
            secret=secret,
            requires_approval=row.requires_approval,
            category=row.category,
        )
    return CodeTool(
        row.name,
        row.description,
        row.input_schema,
        CodeToolConfig.model_validate(row.config),
        requires_approval=row.requires_approval,
        category=row.category,
    )


async def tools_by_name(session: AsyncSession, user: User, names: Sequence[str]) -> list[Tool]:
    """The tools an agent lists in include_tools: builtin names, the user's custom tools,
    mcp__<server>__<tool> for tools of the user's enabled MCP servers (as last listed), and
    plugin__<plugin>__<tool> for tools of the user's enabled plugin installations."""
    wanted = list(dict.fromkeys(names))
    custom = {row.name: row for row in await repository.by_names(session, user.id, wanted)}
    wants_mcp = any(name.startswith(MCP_PREFIX) for name in wanted)
    mcp_tools = await mcp_connect.tools_for(session, user) if wants_mcp else {}
    plugin_tools = await plugin_catalog.tools_by_name(session, user, wanted)
    tools: list[Tool] = []
    missing = []
    for name in wanted:
        if name in custom and custom[name].enabled:
            tools.append(runtime_tool(custom[name]))
        elif (builtin := BUILTIN.get(name)) is not None:
            tools.append(builtin)
        elif name in mcp_tools:
            tools.append(mcp_tools[name])
        elif name in plugin_tools:
            tools.append(plugin_tools[name])
        else:
            missing.append(name)
    if missing:
        raise BadRequest(f"Unknown or disabled tools: {', '.join(missing)}", code="UNKNOWN_TOOLS")
    return tools
