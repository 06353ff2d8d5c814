"""Adapts a set of tools to the agent loop's ToolExecutor: validation, approval, typed output."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tiangong.runtime.llm import ToolSpec
from tiangong.runtime.tools.base import Tool, ToolError, ToolRejected
from tiangong.runtime.tools.context import ToolContext

# approver(tool, arguments) -> True to run, False to refuse. It may wait for a person.
Approver = Callable[[Tool, dict[str, Any]], Awaitable[bool]]


async def run_tool(tool: Tool, arguments: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    """Validate, run and serialise one call. Raises ToolInputError on bad arguments."""
    args = tool.parse_input(arguments)
    output = await tool.run(args, ctx)
    if not isinstance(output, tool.Output):
        raise ToolError(f"{tool.name} returned {type(output).__name__}, not its Output")
    dumped: dict[str, Any] = output.model_dump(mode="json")
    return dumped


class RegistryExecutor:
    """The tools one agent may use, bound to one context."""

    def __init__(
        self, tools: Sequence[Tool], ctx: ToolContext, approver: Approver | None = None
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._ctx = ctx
        self._approver = approver

    def specs(self) -> Sequence[ToolSpec]:
        return [tool.spec() for tool in self._tools.values()]

    async def execute(self, name: str, arguments: dict[str, Any]) -> Any:
        tool = self._tools.get(name)
        if tool is None:
            raise ToolError(f"Unknown tool '{name}'")
        if tool.requires_approval:
            if self._approver is None:
                raise ToolRejected(f"{name} needs approval and no one can approve it here")
            if not await self._approver(tool, arguments):
                raise ToolRejected(f"The user rejected the call to {name}")
        return await run_tool(tool, arguments, self._ctx)
