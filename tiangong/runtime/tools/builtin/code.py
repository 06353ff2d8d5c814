"""Builtin tools: code. User code runs only through `ctx.code`, which is a sandbox."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, field_validator

from tiangong.runtime.tools.base import Tool, ToolError
from tiangong.runtime.tools.context import CodeRunner, ToolContext
from tiangong.runtime.tools.registry import builtin_tool

MAX_CODE_CHARS = 100_000
MAX_INPUTS_BYTES = 1024 * 1024


class RunCodeInput(BaseModel):
    code: str = Field(min_length=1, max_length=MAX_CODE_CHARS, description="The source code.")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="JSON values passed to main() as keyword arguments."
    )
    timeout_s: float = Field(
        default=10.0, gt=0, le=30, description="Wall-clock limit in seconds (at most 30)."
    )

    @field_validator("inputs")
    @classmethod
    def _inputs_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(json.dumps(value, ensure_ascii=False).encode())
        except (TypeError, ValueError) as exc:
            raise ValueError("inputs must be JSON data") from exc
        if size > MAX_INPUTS_BYTES:
            raise ValueError("inputs must be at most 1 MB of JSON")
        return value


class RunCodeOutput(BaseModel):
    ok: bool = Field(description="True when the code ran to the end without an error.")
    result: Any = Field(description="The JSON value main() returned, or null.")
    stdout: str
    stderr: str
    error: str | None = Field(description="Why the run failed (exception, timeout, limit).")
    exit_code: int | None
    duration_ms: float


def _runner(ctx: ToolContext) -> CodeRunner:
    if ctx.code is None:
        raise ToolError("Code execution is not available here.")
    return ctx.code


async def _run(language: str, args: RunCodeInput, ctx: ToolContext) -> RunCodeOutput:
    result = await _runner(ctx).run(
        language, args.code, inputs=args.inputs, timeout_s=args.timeout_s
    )
    return RunCodeOutput(
        ok=result.ok,
        result=result.result,
        stdout=result.stdout,
        stderr=result.stderr,
        error=result.error,
        exit_code=result.exit_code,
        duration_ms=result.duration_ms,
    )


@builtin_tool
class RunPython(Tool):
    name = "run_python"
    description = (
        "Run Python 3 code in an isolated sandbox (no network, no access to your files, "
        "limited CPU time and memory; standard library only) and return its result and output. "
        "Define `def main(**inputs)` (it may be async) returning JSON-serialisable data: it is "
        "called with `inputs` as keyword arguments and its return value comes back as "
        "`result`. Code without main() runs as a plain script with `inputs` as a global; use "
        "print() and read `stdout`. A failure is reported in `error` with ok=false."
    )
    category = "code"
    Input = RunCodeInput
    Output = RunCodeOutput

    async def run(self, args: RunCodeInput, ctx: ToolContext) -> RunCodeOutput:
        return await _run("python", args, ctx)


@builtin_tool
class RunJavascript(Tool):
    name = "run_javascript"
    description = (
        "Run JavaScript (Node.js, CommonJS) in an isolated sandbox (no network, no access to "
        "your files, limited CPU time and memory; built-in modules only) and return its result "
        "and output. Define `function main(inputs)` (or export it; it may be async) returning "
        "JSON-serialisable data: it gets `inputs` as one object and its return value comes "
        "back as `result`. Code without main() runs as a plain script with `inputs` as a "
        "global; use console.log() and read `stdout`. A failure is reported in `error` with "
        "ok=false."
    )
    category = "code"
    Input = RunCodeInput
    Output = RunCodeOutput

    async def run(self, args: RunCodeInput, ctx: ToolContext) -> RunCodeOutput:
        return await _run("javascript", args, ctx)
