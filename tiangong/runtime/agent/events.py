"""Typed events of one agent run, shared by SSE endpoints and workflow nodes.

`type` names the event on the wire; `to_dict()` is its JSON payload without the type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias


@dataclass(frozen=True, slots=True)
class TokenEvent:
    text: str

    type: ClassVar[Literal["token"]] = "token"

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True, slots=True)
class ReasoningEvent:
    text: str

    type: ClassVar[Literal["reasoning"]] = "reasoning"

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """`arguments` is the raw text only when the model's JSON could not be used."""

    call_id: str
    name: str
    arguments: dict[str, Any] | str

    type: ClassVar[Literal["tool_call"]] = "tool_call"

    def to_dict(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "name": self.name, "arguments": self.arguments}


@dataclass(frozen=True, slots=True)
class ToolResultEvent:
    """`result` is JSON-compatible data; with `error` set it is None."""

    call_id: str
    name: str
    arguments: dict[str, Any] | str
    result: Any
    error: str | None
    duration_ms: float

    type: ClassVar[Literal["tool_result"]] = "tool_result"

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "name": self.name,
            "arguments": self.arguments,
            "result": self.result,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }

    def record(self) -> dict[str, Any]:
        """The shape `DoneEvent.tool_calls` stores for this call."""
        return {
            "id": self.call_id,
            "name": self.name,
            "arguments": self.arguments,
            "result": self.result,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, slots=True)
class DoneEvent:
    """The run finished. `content` and `reasoning` span all iterations, as streamed."""

    content: str
    reasoning: str
    token_usage: dict[str, int]
    iterations: int
    finish_reason: str
    tool_calls: list[dict[str, Any]]

    type: ClassVar[Literal["done"]] = "done"

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "token_usage": dict(self.token_usage),
            "iterations": self.iterations,
            "finish_reason": self.finish_reason,
            "tool_calls": [dict(c) for c in self.tool_calls],
        }


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """The run failed; always the last event. Carries what was produced before the failure."""

    code: str
    message: str
    partial_content: str
    partial_reasoning: str
    token_usage: dict[str, int]

    type: ClassVar[Literal["error"]] = "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "partial_content": self.partial_content,
            "partial_reasoning": self.partial_reasoning,
            "token_usage": dict(self.token_usage),
        }


AgentEvent: TypeAlias = (
    TokenEvent | ReasoningEvent | ToolCallEvent | ToolResultEvent | DoneEvent | ErrorEvent
)
