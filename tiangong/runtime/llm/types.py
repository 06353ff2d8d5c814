"""Provider-neutral request, result and stream types for chat models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

Role = Literal["system", "user", "assistant", "tool"]
Outcome = Literal["ok", "error", "cancelled"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call requested by the model; `arguments` is the raw JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str | None = None
    tool_calls: Sequence[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    def to_openai(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            msg["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            msg["name"] = self.name
        return msg


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function tool; `parameters` is the JSON schema of its input."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )

    def to_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }


ToolChoice: TypeAlias = Literal["auto", "none", "required"] | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChatParams:
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    thinking: bool = False
    tools: Sequence[ToolSpec] = ()
    tool_choice: ToolChoice | None = None
    extra_body: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """One fragment of a streamed tool call; fragments share `index`."""

    index: int
    id: str | None
    name: str | None
    arguments_fragment: str


@dataclass(frozen=True, slots=True)
class UsageDelta(Usage):
    """Token usage, reported once near the end of a stream."""


@dataclass(frozen=True, slots=True)
class FinishDelta:
    reason: str


StreamDelta: TypeAlias = TextDelta | ReasoningDelta | ToolCallDelta | UsageDelta | FinishDelta


@dataclass(frozen=True, slots=True)
class ChatResult:
    text: str
    reasoning: str
    tool_calls: list[ToolCall]
    usage: Usage | None
    finish_reason: str | None
    latency_ms: float


@dataclass(frozen=True, slots=True)
class LLMCallRecord:
    """What the call log stores about one chat or stream call (retries included)."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    ttft_ms: float | None
    latency_ms: float
    outcome: Outcome
    error_code: str | None = None


class ChatModel(Protocol):
    async def chat(self, messages: Sequence[ChatMessage], params: ChatParams) -> ChatResult: ...

    def stream(
        self, messages: Sequence[ChatMessage], params: ChatParams
    ) -> AsyncIterator[StreamDelta]: ...
