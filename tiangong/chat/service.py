"""Agent chat: resolve the agent and its model, then run a durable turn."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent
from tiangong.agents.service import get_visible
from tiangong.auth.models import User
from tiangong.chat.schemas import BareChatRequest, ChatReply, ChatRequest
from tiangong.conversations import repository
from tiangong.conversations.schemas import MessageView
from tiangong.conversations.turns import Turn, TurnRequest, start_turn
from tiangong.db.engine import session_factory
from tiangong.db.session import commit_if_open
from tiangong.errors import Conflict, NotFound, UpstreamError
from tiangong.knowledge import grounding
from tiangong.knowledge.tool import EXTRA as KNOWLEDGE_EXTRA
from tiangong.knowledge.tool import KnowledgeSearch, KnowledgeSearchTool
from tiangong.model_configs.service import ResolvedModel, resolve
from tiangong.runtime.agent import ToolExecutor
from tiangong.runtime.tools import RegistryExecutor, ToolError
from tiangong.runtime.tools.context import CallAgent
from tiangong.tools import platform
from tiangong.tools.approvals import Approvals

MAX_AGENT_DEPTH = 3


async def agent_model(session: AsyncSession, user: User, agent: Agent) -> ResolvedModel:
    """The agent's model_config names a config (or falls back to the default) and may override
    its parameters."""
    cfg = agent.model_config or {}
    ref = cfg.get("config_id") or cfg.get("model")
    resolved = await resolve(session, user, str(ref) if ref else None)
    overrides = {
        k: cfg[k] for k in ("temperature", "max_tokens", "thinking") if cfg.get(k) is not None
    }
    if cfg.get("model_name") and not ref:
        overrides["model_name"] = str(cfg["model_name"])
    return dataclasses.replace(resolved, **overrides)


async def _check_session(session: AsyncSession, user: User, session_id: str | None) -> None:
    # Before anything else, so another user's session is a 404 whatever else is wrong.
    if session_id and await repository.get_owned(session, user.id, session_id) is None:
        raise NotFound("Conversation not found", code="CONVERSATION_NOT_FOUND")


def _agent_caller(user_id: str, depth: int) -> CallAgent:
    """call_agent for tools: run another agent's turn as the same user, with a depth limit."""

    async def call(agent_id: str, message: str) -> str:
        if depth >= MAX_AGENT_DEPTH:
            raise ToolError(f"Agents may call agents only {MAX_AGENT_DEPTH} levels deep")
        async with session_factory()() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise ToolError("The calling user no longer exists")
            turn = await start_agent_turn(
                session, user, agent_id, ChatRequest(message=message), depth=depth + 1
            )
        final = await turn.result()
        if final.status == "failed":
            raise ToolError(f"Agent {agent_id} failed: {final.error}")
        return final.content

    return call


async def _tools_for(
    session: AsyncSession,
    user: User,
    agent: Agent,
    depth: int,
    knowledge: KnowledgeSearch,
) -> Callable[[Turn], ToolExecutor] | None:
    if not agent.include_tools:
        return None
    tools = await platform.tools_by_name(session, user, agent.include_tools)
    ctx = await platform.tool_context(
        session, user, agent_id=agent.id, call_agent=_agent_caller(user.id, depth), depth=depth
    )
    ctx.extras[KNOWLEDGE_EXTRA] = knowledge

    def build(turn: Turn) -> ToolExecutor:
        approver = Approvals(user.id, agent.id, turn.conversation_id, turn.emit)
        bound = dataclasses.replace(ctx, conversation_id=turn.conversation_id)
        return RegistryExecutor(tools, bound, approver)

    return build


async def start_agent_turn(
    session: AsyncSession,
    user: User,
    agent_id: str,
    data: ChatRequest,
    *,
    source: str = "agent_chat",
    depth: int = 0,
) -> Turn:
    agent = await get_visible(session, user, agent_id)
    await _check_session(session, user, data.session_id)
    if agent.status == "stopped":
        raise Conflict("This agent is stopped; deploy it to chat", code="AGENT_STOPPED")
    model = await agent_model(session, user, agent)
    bound = agent.knowledge_base_ids
    kbs = await grounding.readable(session, user, bound) if bound else []
    cited = grounding.Citations()
    # Without bound knowledge bases, the knowledge_search tool searches the user's own.
    unbound_tool = not bound and KnowledgeSearchTool.name in agent.include_tools
    searchable = await grounding.own(session, user) if unbound_tool else kbs
    tools = await _tools_for(session, user, agent, depth, grounding.searcher(searchable, cited))
    # Reads are done; no transaction stays open while retrieval and the model run.
    await commit_if_open(session)
    system_prompt = await grounding.ground(agent.system_prompt or None, kbs, data.message, cited)
    return await start_turn(
        TurnRequest(
            user_id=user.id,
            message=data.message,
            model=model,
            source=source,
            conversation_id=data.session_id,
            agent_id=agent.id,
            system_prompt=system_prompt,
            iteration_limit=agent.iteration_limit,
            tools=tools,
            citations=cited.items,
        )
    )


async def start_bare_turn(session: AsyncSession, user: User, data: BareChatRequest) -> Turn:
    await _check_session(session, user, data.session_id)
    model = await resolve(session, user, data.model)
    await commit_if_open(session)
    return await start_turn(
        TurnRequest(
            user_id=user.id,
            message=data.message,
            model=model,
            source="bare",
            conversation_id=data.session_id,
            system_prompt=data.system_prompt,
            thinking=data.thinking,
        )
    )


def reply(turn: Turn, final: MessageView, agent_id: str | None, streamlined: bool) -> ChatReply:
    if final.status == "failed":
        code, _, message = (final.error or "CHAT_FAILED: the model call failed").partition(": ")
        raise UpstreamError(message or code, code=code)
    if streamlined:
        return ChatReply(session_id=turn.conversation_id, reply=final.content)
    return ChatReply(
        session_id=turn.conversation_id,
        reply=final.content,
        message_id=final.id,
        user_message_id=turn.user_message.id,
        agent_id=agent_id,
        status=final.status,
        reasoning_content=final.reasoning_content,
        reasoning_duration_seconds=final.reasoning_duration_seconds,
        tool_calls=final.tool_calls or [],
        token_usage=final.token_usage or {},
    )
