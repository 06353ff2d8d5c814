"""llm (one completion) and agent (a whole agent run)."""

from __future__ import annotations

from pydantic import Field

from tiangong.runtime.agent.events import AgentEvent, DoneEvent, ErrorEvent
from tiangong.runtime.workflow.errors import NodeError
from tiangong.runtime.workflow.nodes.base import Node, NodeConfig, NodeContext, NodeResult, require
from tiangong.runtime.workflow.nodes.registry import register_node
from tiangong.runtime.workflow.services import AgentDone


class LLMConfig(NodeConfig):
    prompt: str = Field(min_length=1, max_length=200_000)
    system: str | None = Field(default=None, max_length=200_000)
    # A model config id, name or alias; None for the owner's default model.
    model: str | None = Field(default=None, min_length=1, max_length=200)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)


@register_node("llm")
class LLMNode(Node[LLMConfig]):
    Config = LLMConfig

    def output_fields(self, config: LLMConfig) -> frozenset[str]:
        return frozenset({"text", "usage"})

    async def run(self, ctx: NodeContext, inputs: LLMConfig) -> NodeResult:
        complete = require(ctx.services.llm_complete, "llm_complete")
        messages = [{"role": "user", "content": inputs.prompt}]
        if inputs.system:
            messages.insert(0, {"role": "system", "content": inputs.system})
        reply = await complete(
            messages,
            model=inputs.model,
            temperature=inputs.temperature,
            max_tokens=inputs.max_tokens,
        )
        return NodeResult({"text": reply.text, "usage": dict(reply.usage)})


class AgentConfig(NodeConfig):
    agent_id: str = Field(min_length=1, max_length=100)
    message: str = Field(min_length=1, max_length=200_000)


@register_node("agent")
class AgentNode(Node[AgentConfig]):
    Config = AgentConfig

    def output_fields(self, config: AgentConfig) -> frozenset[str]:
        return frozenset({"text", "reasoning", "token_usage", "tool_calls", "conversation_id"})

    async def run(self, ctx: NodeContext, inputs: AgentConfig) -> NodeResult:
        run_agent = require(ctx.services.run_agent, "run_agent")
        # Read to the end (done/error is the last event) so the stream closes itself.
        last: AgentEvent | None = None
        async for event in run_agent(inputs.agent_id, inputs.message):
            last = event
        if isinstance(last, ErrorEvent):
            raise NodeError(last.message, code=last.code)
        if not isinstance(last, DoneEvent):
            raise NodeError("the agent stopped without an answer", code="AGENT_NO_ANSWER")
        return NodeResult(
            {
                "text": last.content,
                "reasoning": last.reasoning,
                "token_usage": dict(last.token_usage),
                "tool_calls": [dict(call) for call in last.tool_calls],
                "conversation_id": last.conversation_id if isinstance(last, AgentDone) else None,
            }
        )
