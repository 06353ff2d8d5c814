"""Code tools: a recording runner checks what the tools pass on; the real bubblewrap sandbox
checks the documented main(**inputs) / main(inputs) conventions end to end."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.sandbox import SandboxRunner
from tiangong.runtime.tools import BUILTIN, CodeResult, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed on this host"
)
needs_node = pytest.mark.skipif(
    shutil.which("node") is None, reason="Node.js is not installed on this host"
)


async def call(name: str, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, name
    return await run_tool(tool, args, ctx)


class RecordingRunner:
    """Answers every run with a fixed result and remembers the call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def run(
        self,
        language: str,
        code: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        timeout_s: float = 10.0,
        memory_mb: int = 256,
    ) -> CodeResult:
        self.calls.append(
            {"language": language, "code": code, "inputs": inputs, "timeout_s": timeout_s}
        )
        return CodeResult(
            ok=True,
            result={"echo": dict(inputs or {})},
            stdout="out",
            stderr="",
            error=None,
            exit_code=0,
            duration_ms=1.5,
        )


@pytest.mark.parametrize(
    ("name", "language"), [("run_python", "python"), ("run_javascript", "javascript")]
)
async def test_code_tools_pass_code_inputs_and_timeout_to_the_runner(
    name: str, language: str
) -> None:
    runner = RecordingRunner()
    result = await call(
        name, {"code": "main", "inputs": {"n": 2}, "timeout_s": 3}, ToolContext(code=runner)
    )
    assert runner.calls == [
        {"language": language, "code": "main", "inputs": {"n": 2}, "timeout_s": 3.0}
    ]
    assert result == {
        "ok": True,
        "result": {"echo": {"n": 2}},
        "stdout": "out",
        "stderr": "",
        "error": None,
        "exit_code": 0,
        "duration_ms": 1.5,
    }


@pytest.mark.parametrize("name", ["run_python", "run_javascript"])
async def test_code_tools_reject_bad_input_and_missing_sandbox(name: str) -> None:
    ctx = ToolContext(code=RecordingRunner())
    for args in (
        {"code": ""},
        {"code": "x", "timeout_s": 31},
        {"code": "x", "timeout_s": 0},
        {"code": "x", "inputs": {"big": "x" * (1024 * 1024)}},
        {"code": "x", "inputs": [1, 2]},
    ):
        with pytest.raises(ToolInputError):
            await call(name, args, ctx)
    with pytest.raises(ToolError, match="not available here"):
        await call(name, {"code": "print(1)"}, ToolContext())


@pytest.fixture(scope="module")
def sandbox() -> ToolContext:
    return ToolContext(code=SandboxRunner())


@needs_bwrap
async def test_run_python_calls_main_with_inputs_in_the_sandbox(sandbox: ToolContext) -> None:
    code = "def main(x, name):\n    print('working on', name)\n    return {'double': x * 2}\n"
    result = await call("run_python", {"code": code, "inputs": {"x": 21, "name": "job"}}, sandbox)
    assert result["ok"] is True, result
    assert result["result"] == {"double": 42}
    assert result["stdout"] == "working on job\n"
    assert result["error"] is None


@needs_bwrap
async def test_run_python_without_main_runs_as_a_script(sandbox: ToolContext) -> None:
    result = await call(
        "run_python", {"code": "print(inputs['n'] + 1)", "inputs": {"n": 1}}, sandbox
    )
    assert (result["ok"], result["result"], result["stdout"]) == (True, None, "2\n")


@needs_bwrap
async def test_run_python_reports_failures_as_results(sandbox: ToolContext) -> None:
    failed = await call(
        "run_python", {"code": "def main():\n    raise ValueError('nope')"}, sandbox
    )
    assert failed["ok"] is False
    assert "ValueError: nope" in failed["error"]

    slow = await call("run_python", {"code": "while True:\n    pass", "timeout_s": 1}, sandbox)
    assert slow["ok"] is False
    assert slow["error"]

    offline = await call(
        "run_python",
        {"code": "import socket\ndef main():\n    socket.create_connection(('127.0.0.1', 9), 2)"},
        sandbox,
    )
    assert offline["ok"] is False


@needs_bwrap
@needs_node
async def test_run_javascript_calls_main_with_inputs_in_the_sandbox(sandbox: ToolContext) -> None:
    code = "async function main(inputs) { console.log('hi', inputs.n); return [inputs.n + 1]; }"
    result = await call("run_javascript", {"code": code, "inputs": {"n": 41}}, sandbox)
    assert result["ok"] is True, result
    assert result["result"] == [42]
    assert result["stdout"] == "hi 41\n"

    failed = await call("run_javascript", {"code": "throw new TypeError('bad');"}, sandbox)
    assert failed["ok"] is False
    assert "TypeError: bad" in failed["error"]
