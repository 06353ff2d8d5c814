"""call_agent: asks another agent through the context, never itself."""

from __future__ import annotations

from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool


async def call(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    tool = BUILTIN.get("call_agent")
    assert tool is not None
    return await run_tool(tool, args, ctx)


class Directory:
    """A fake `call_agent` that records calls and answers per agent."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, agent_id: str, message: str) -> str:
        self.calls.append((agent_id, message))
        return f"{agent_id} says: done with {message!r}"


async def test_call_agent_returns_the_other_agents_reply() -> None:
    directory = Directory()
    ctx = ToolContext(agent_id="planner", call_agent=directory)
    result = await call({"agent_id": "writer", "message": "draft the intro"}, ctx)
    assert result == {"agent_id": "writer", "reply": "writer says: done with 'draft the intro'"}
    assert directory.calls == [("writer", "draft the intro")]


async def test_call_agent_refuses_to_call_itself() -> None:
    directory = Directory()
    ctx = ToolContext(agent_id="planner", call_agent=directory)
    with pytest.raises(ToolInputError, match="cannot call itself"):
        await call({"agent_id": "planner", "message": "loop forever"}, ctx)
    assert directory.calls == []


async def test_call_agent_validates_input_and_needs_the_capability() -> None:
    ctx = ToolContext(agent_id="planner", call_agent=Directory())
    with pytest.raises(ToolInputError):
        await call({"agent_id": "writer", "message": ""}, ctx)
    with pytest.raises(ToolInputError):
        await call({"agent_id": "x" * 65, "message": "hi"}, ctx)
    with pytest.raises(ToolError, match="not available here"):
        await call({"agent_id": "writer", "message": "hi"}, ToolContext(agent_id="planner"))
