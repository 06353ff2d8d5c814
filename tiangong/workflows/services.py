"""WorkflowServices for one run, built from the platform: the owner's models, agents and
tools, the SSRF-safe HTTP client and the sandbox. Approvals pause the run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from tiangong.auth.models import User
from tiangong.chat import service as chat_service
from tiangong.chat.schemas import ChatRequest
from tiangong.db.engine import session_factory
from tiangong.llm_logs.recorder import recorder
from tiangong.model_configs.service import resolve
from tiangong.runtime.agent.events import AgentEvent, DoneEvent, ErrorEvent
from tiangong.runtime.llm import ChatMessage, ChatParams
from tiangong.runtime.tools.executor import run_tool
from tiangong.runtime.workflow import ApprovalRequest, Completion, NodeError, WorkflowServices
from tiangong.tools import platform


def approval_id(run_id: str, node_id: str) -> str:
    """Stable per (run, node), so asking again after a crash gives the same id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"tiangong:workflow:{run_id}:{node_id}").hex


def build(user: User, run_id: str) -> WorkflowServices:
    async def llm_complete(
        messages: Sequence[Mapping[str, str]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        async with session_factory()() as session:
            resolved = await resolve(session, user, model)
        params = ChatParams(
            model=resolved.model_name,
            temperature=temperature if temperature is not None else resolved.temperature,
            max_tokens=max_tokens or resolved.max_tokens,
        )
        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]  # type: ignore[arg-type]
        async with resolved.client(on_call=recorder(user_id=user.id, agent_id=None)) as client:
            result = await client.chat(chat, params)
        usage: dict[str, int] = {}
        if result.usage is not None:
            usage = {
                "prompt_tokens": result.usage.prompt_tokens,
                "completion_tokens": result.usage.completion_tokens,
                "total_tokens": result.usage.total_tokens,
            }
        return Completion(result.text, usage)

    async def run_agent(agent_id: str, message: str) -> AsyncIterator[AgentEvent]:
        async with session_factory()() as session:
            turn = await chat_service.start_agent_turn(
                session, user, agent_id, ChatRequest(message=message), source="workflow"
            )
            await session.commit()
        final = await turn.result()
        if final.status == "error" or final.error:
            yield ErrorEvent("AGENT_FAILED", final.error or "agent failed", final.content, "", {})
            return
        yield DoneEvent(
            final.content,
            final.reasoning_content,
            {k: int(v) for k, v in (final.token_usage or {}).items() if isinstance(v, int)},
            1,
            "stop",
            list(final.tool_calls or []),
        )

    async def call_tool(name: str, arguments: Mapping[str, Any]) -> Any:
        async with session_factory()() as session:
            tools = await platform.tools_by_name(session, user, [name])
            ctx = await platform.tool_context(session, user)
        if not tools:
            raise NodeError(f"unknown tool '{name}'", code="TOOL_NOT_FOUND", retryable=False)
        tool = tools[0]
        if tool.requires_approval:
            raise NodeError(
                f"tool '{name}' requires approval; put an approval node before it",
                code="TOOL_REQUIRES_APPROVAL",
                retryable=False,
            )
        return await run_tool(tool, dict(arguments), ctx)

    async def request_approval(request: ApprovalRequest) -> str:
        # The node run row (status "waiting", approval_id) is the pending approval.
        return approval_id(request.run_id, request.node_id)

    return WorkflowServices(
        llm_complete=llm_complete,
        run_agent=run_agent,
        run_tool=call_tool,
        http_request=platform.http_client(),
        run_code=platform.sandbox(),
        request_approval=request_approval,
    )
