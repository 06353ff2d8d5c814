"""Builtin tools: agents. One agent asks another through `ctx.call_agent`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tiangong.runtime.tools.base import Tool, ToolError, ToolInputError
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool


class CallAgentInput(BaseModel):
    agent_id: str = Field(
        min_length=1, max_length=64, description="Id of the agent to ask (not yourself)."
    )
    message: str = Field(
        min_length=1,
        max_length=20_000,
        description="The full request for that agent; it does not see this conversation.",
    )


class CallAgentOutput(BaseModel):
    agent_id: str
    reply: str = Field(description="The other agent's final answer.")


@builtin_tool
class CallAgent(Tool):
    name = "call_agent"
    description = (
        "Ask another agent to do something and return its final reply. The other agent sees "
        "only `message`, not this conversation, so include everything it needs. An agent "
        "cannot call itself."
    )
    category = "agents"
    Input = CallAgentInput
    Output = CallAgentOutput

    async def run(self, args: CallAgentInput, ctx: ToolContext) -> CallAgentOutput:
        if ctx.call_agent is None:
            raise ToolError("Calling other agents is not available here.")
        agent_id = args.agent_id.strip()
        if ctx.agent_id is not None and agent_id == ctx.agent_id:
            raise ToolInputError("An agent cannot call itself; answer directly instead.")
        reply = await ctx.call_agent(agent_id, args.message)
        return CallAgentOutput(agent_id=agent_id, reply=reply)
