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
from tiangong.knowledge import retrieval
from tiangong.knowledge.service import visible_specs
from tiangong.llm_logs.recorder import recorder
from tiangong.model_configs.service import resolve
from tiangong.runtime.agent.events import AgentEvent, ErrorEvent
from tiangong.runtime.llm import ChatMessage, ChatParams
from tiangong.runtime.tools.executor import run_tool
from tiangong.runtime.workflow import ApprovalRequest, Completion, NodeError, WorkflowServices
from tiangong.runtime.workflow.services import AgentDone
from tiangong.tools import platform
from tiangong.workflows import subruns


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
        yield AgentDone(
            final.content,
            final.reasoning_content,
            {k: int(v) for k, v in (final.token_usage or {}).items() if isinstance(v, int)},
            1,
            "stop",
            list(final.tool_calls or []),
            conversation_id=turn.conversation_id,
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

    async def knowledge_search(
        knowledge_base_ids: Sequence[str], query: str, *, top_k: int
    ) -> list[dict[str, Any]]:
        async with session_factory()() as session:
            kbs = await visible_specs(session, user, list(knowledge_base_ids))
        # Same answer for another user's knowledge base as for none: it cannot be probed.
        missing = [kb_id for kb_id in knowledge_base_ids if kb_id not in {kb.id for kb in kbs}]
        if missing:
            raise NodeError(
                f"knowledge base '{missing[0]}' not found",
                code="KNOWLEDGE_BASE_NOT_FOUND",
                retryable=False,
            )
        hits = await retrieval.search_many(kbs, query, top_k=top_k)
        return [
            {
                "content": hit.text,
                "score": hit.score,
                "knowledge_base_id": hit.kb_id,
                "document_id": hit.document_id,
                "document_name": hit.document_name,
                "chunk_id": hit.chunk_id,
                "position": hit.position,
                "heading": hit.heading,
            }
            for hit in hits
        ]

    async def run_sub_workflow(
        workflow_id: str, inputs: Mapping[str, Any], *, parent_node_id: str | None = None
    ) -> dict[str, Any]:
        return await subruns.run_child(user, run_id, workflow_id, inputs, parent_node_id)

    async def request_approval(request: ApprovalRequest) -> str:
        # The node run row (status "waiting", approval_id) is the pending approval.
        return approval_id(request.run_id, request.node_id)

    return WorkflowServices(
        llm_complete=llm_complete,
        run_agent=run_agent,
        run_tool=call_tool,
        http_request=platform.http_client(),
        run_code=platform.sandbox(),
        knowledge_search=knowledge_search,
        run_sub_workflow=run_sub_workflow,
        request_approval=request_approval,
    )
