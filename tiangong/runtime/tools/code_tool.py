"""Custom code tools: user code run in the sandbox with the call's arguments as inputs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from tiangong.runtime.tools.base import JsonResult, SchemaTool, ToolError
from tiangong.runtime.tools.context import ToolContext


class CodeToolConfig(BaseModel):
    language: Literal["python", "javascript"] = "python"
    code: str = Field(min_length=1, max_length=100_000)
    timeout_s: float = Field(default=10, gt=0, le=60)
    memory_mb: int = Field(default=256, ge=16, le=2048)


class CodeTool(SchemaTool):
    def __init__(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        config: CodeToolConfig,
        *,
        requires_approval: bool = False,
        category: str = "custom",
    ) -> None:
        super().__init__(
            name, description, category, parameters, requires_approval=requires_approval
        )
        self.config = config

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> JsonResult:
        if ctx.code is None:
            raise ToolError("Code execution is not available here")
        outcome = await ctx.code.run(
            self.config.language,
            self.config.code,
            inputs=args,
            timeout_s=self.config.timeout_s,
            memory_mb=self.config.memory_mb,
        )
        if not outcome.ok:
            raise ToolError(f"{self.name} failed: {outcome.error or outcome.stderr[-500:]}")
        return JsonResult(result=outcome.result)
