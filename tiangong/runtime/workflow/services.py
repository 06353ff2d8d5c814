"""What workflow nodes may use of the world. The platform fills these in; tests use fakes.

A node that needs a service the platform has not provided fails with SERVICE_UNAVAILABLE.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tiangong.runtime.agent.events import AgentEvent, DoneEvent
from tiangong.runtime.tools.context import CodeRunner, HttpFetcher


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Mapping[str, int] = field(default_factory=dict)


class LLMComplete(Protocol):
    """One chat completion; `model` is a model config reference (id, name or alias) or None
    for the caller's default."""

    async def __call__(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion: ...


@dataclass(frozen=True, slots=True)
class AgentDone(DoneEvent):
    """A `done` that also names the conversation the turn was saved in (the call chain links
    to it)."""

    conversation_id: str | None = None


class RunAgent(Protocol):
    """Runs an agent on one message; the same event stream the chat endpoints consume. Its
    last event may be an `AgentDone`."""

    def __call__(self, agent_id: str, message: str) -> AsyncIterator[AgentEvent]: ...


class RunTool(Protocol):
    """Calls a tool the run's owner may use; returns its JSON result or raises."""

    async def __call__(self, name: str, arguments: Mapping[str, Any]) -> Any: ...


class KnowledgeSearch(Protocol):
    """Hybrid search over knowledge bases the run's owner may read. Each hit is a JSON object
    with at least `content` and `score`."""

    async def __call__(
        self, knowledge_base_ids: Sequence[str], query: str, *, top_k: int
    ) -> list[dict[str, Any]]: ...


class RunSubWorkflow(Protocol):
    """Runs another workflow to its end and returns its outputs (the platform limits depth).
    `parent_node_id` is the calling node: after a crash the same node finds the same child run."""

    async def __call__(
        self, workflow_id: str, inputs: Mapping[str, Any], *, parent_node_id: str | None = None
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ApprovalRequest:
    run_id: str
    node_id: str
    title: str
    description: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ApprovalDecision:
    approved: bool
    comment: str | None = None
    decided_by: str | None = None


class RequestApproval(Protocol):
    """Records a pending approval and tells whoever must decide; returns its id. It must be
    idempotent per (run_id, node_id): after a crash the engine may ask again."""

    async def __call__(self, request: ApprovalRequest) -> str: ...


@dataclass
class WorkflowServices:
    llm_complete: LLMComplete | None = None
    run_agent: RunAgent | None = None
    run_tool: RunTool | None = None
    # The platform's SSRF-safe client; nodes never make requests any other way.
    http_request: HttpFetcher | None = None
    # The sandbox; code never runs outside it.
    run_code: CodeRunner | None = None
    knowledge_search: KnowledgeSearch | None = None
    run_sub_workflow: RunSubWorkflow | None = None
    request_approval: RequestApproval | None = None
