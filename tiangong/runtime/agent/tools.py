"""Runs one turn's tool calls concurrently; every failure becomes a result the model can read."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from tiangong.errors import AppError
from tiangong.runtime.agent.events import ToolCallEvent, ToolResultEvent
from tiangong.runtime.llm import ToolSpec

logger = logging.getLogger(__name__)


class ToolExecutor(Protocol):
    def specs(self) -> Sequence[ToolSpec]: ...

    async def execute(self, name: str, arguments: dict[str, Any]) -> Any: ...


def parse_arguments(raw: str) -> tuple[dict[str, Any] | str, str | None]:
    """The arguments as an object, or the raw text and why it cannot be used."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return raw, f"Invalid JSON in tool arguments: {exc}"
    if not isinstance(value, dict):
        return raw, "Tool arguments must be a JSON object."
    return value, None


def tool_message_content(result: Any, error: str | None) -> str:
    """What the model reads back in the `role="tool"` message for one call."""
    if error is not None:
        return f"Error: {error}"
    return json.dumps(result, ensure_ascii=False)


async def run_tool_calls(
    tools: ToolExecutor | None,
    known: set[str],
    calls: Sequence[tuple[ToolCallEvent, str | None]],
    timeout_s: float,
) -> list[ToolResultEvent]:
    """Results in call order, all calls at once.

    `known` holds the advertised tool names; `calls` pairs each call with the reason it was
    refused, if any.
    """
    return list(
        await asyncio.gather(
            *(_run_one(tools, known, call, refused, timeout_s) for call, refused in calls)
        )
    )


async def _run_one(
    tools: ToolExecutor | None,
    known: set[str],
    call: ToolCallEvent,
    refused: str | None,
    timeout_s: float,
) -> ToolResultEvent:
    started = time.perf_counter()
    result: Any = None
    error = refused
    if error is None and (tools is None or call.name not in known):
        # Only advertised tools may run: the model saw no others.
        error = f"Unknown tool '{call.name}'."
    elif error is None and tools is not None and isinstance(call.arguments, dict):
        deadline = asyncio.timeout(timeout_s)
        try:
            async with deadline:
                result = _jsonable(await tools.execute(call.name, call.arguments))
        except Exception as exc:
            error = _describe(exc, deadline.expired(), timeout_s)
            logger.warning("tool %s failed: %s", call.name, error, exc_info=not deadline.expired())
    return ToolResultEvent(
        call_id=call.call_id,
        name=call.name,
        arguments=call.arguments,
        result=None if error is not None else result,
        error=error,
        duration_ms=(time.perf_counter() - started) * 1000,
    )


def _describe(exc: Exception, timed_out: bool, timeout_s: float) -> str:
    if timed_out:
        return f"Tool timed out after {timeout_s:g} s."
    if isinstance(exc, AppError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _jsonable(value: Any) -> Any:
    """Tool results go to SSE, storage and the model: make them plain JSON data once, here."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=_fallback))


def _fallback(value: Any) -> Any:
    if hasattr(value, "model_dump"):  # pydantic models, without importing pydantic here
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)
