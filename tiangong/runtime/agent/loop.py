"""The agent loop: stream a reply, run the tools it asks for, feed results back, repeat."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiangong.errors import AppError
from tiangong.runtime.agent.events import (
    AgentEvent,
    DoneEvent,
    ErrorEvent,
    ReasoningEvent,
    TokenEvent,
    ToolCallEvent,
)
from tiangong.runtime.agent.tools import (
    ToolExecutor,
    parse_arguments,
    run_tool_calls,
    tool_message_content,
)
from tiangong.runtime.llm import (
    ChatMessage,
    ChatModel,
    ChatParams,
    FinishDelta,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallAssembler,
    ToolCallDelta,
    UsageDelta,
)

logger = logging.getLogger(__name__)

__all__ = ["ToolExecutor", "run_agent"]


@dataclass(slots=True)
class _Progress:
    """What the run has produced so far, for the final Done or Error event."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("prompt_tokens", "completion_tokens", "reasoning_tokens", "total_tokens"), 0
        )
    )
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def add_usage(self, delta: UsageDelta) -> None:
        for key in self.usage:
            self.usage[key] += getattr(delta, key)

    def done(self, iterations: int, finish_reason: str) -> DoneEvent:
        return DoneEvent(
            content="".join(self.content),
            reasoning="".join(self.reasoning),
            token_usage=dict(self.usage),
            iterations=iterations,
            finish_reason=finish_reason,
            tool_calls=list(self.tool_calls),
        )

    def error(self, code: str, message: str) -> ErrorEvent:
        return ErrorEvent(
            code=code,
            message=message,
            partial_content="".join(self.content),
            partial_reasoning="".join(self.reasoning),
            token_usage=dict(self.usage),
        )


async def run_agent(
    model: ChatModel,
    messages: Sequence[ChatMessage],
    params: ChatParams,
    *,
    tools: ToolExecutor | None = None,
    iteration_limit: int = 15,
    tool_timeout_s: float = 60.0,
) -> AsyncGenerator[AgentEvent, None]:
    """Events of one run, ending with exactly one DoneEvent or ErrorEvent.

    Failures never raise out of the generator; cancellation and `aclose()` do propagate.
    `iteration_limit` counts LLM calls; the tools the last allowed call asks for still run,
    so every reported tool call has a result.
    """
    if iteration_limit < 1:
        raise ValueError("iteration_limit must be at least 1")
    known: set[str] = set()
    if tools is not None:
        specs = list(tools.specs())
        known = {spec.name for spec in specs}
        params = dataclasses.replace(params, tools=specs)
    working = list(messages)
    progress = _Progress()
    failure: ErrorEvent | None = None
    try:
        for iteration in range(1, iteration_limit + 1):
            text: list[str] = []
            assembler = ToolCallAssembler()
            finish_reason = "stop"
            stream = model.stream(working, params)
            try:
                async for delta in stream:
                    # Relayed one for one: buffering here would delay every token.
                    if isinstance(delta, TextDelta):
                        text.append(delta.text)
                        progress.content.append(delta.text)
                        yield TokenEvent(delta.text)
                    elif isinstance(delta, ReasoningDelta):
                        progress.reasoning.append(delta.text)
                        yield ReasoningEvent(delta.text)
                    elif isinstance(delta, ToolCallDelta):
                        assembler.add(delta)
                    elif isinstance(delta, UsageDelta):
                        progress.add_usage(delta)
                    elif isinstance(delta, FinishDelta):
                        finish_reason = delta.reason
            finally:
                # `ChatModel.stream` is typed as an iterator, but real models are generators
                # holding a connection; close it even when our consumer stops early.
                if isinstance(stream, AsyncGenerator):
                    await stream.aclose()

            calls = assembler.calls()
            if not calls:
                yield progress.done(iteration, finish_reason)
                return

            call_events: list[ToolCallEvent] = []
            refusals: list[str | None] = []
            for call in calls:
                arguments, refused = parse_arguments(call.arguments)
                call_events.append(ToolCallEvent(call.id, call.name, arguments))
                refusals.append(refused)
            for event in call_events:
                yield event
            results = await run_tool_calls(
                tools, known, list(zip(call_events, refusals, strict=True)), tool_timeout_s
            )
            for result in results:
                progress.tool_calls.append(result.record())
                yield result

            # Unusable arguments go back as "{}": some providers reject a history holding
            # invalid JSON, and the tool message already tells the model what was wrong.
            echoed = [
                ToolCall(c.id, c.name, c.arguments if refused is None else "{}")
                for c, refused in zip(calls, refusals, strict=True)
            ]
            # No reasoning here: it is never sent back to the model.
            working.append(
                ChatMessage(role="assistant", content="".join(text) or None, tool_calls=echoed)
            )
            working.extend(
                ChatMessage(
                    role="tool",
                    tool_call_id=r.call_id,
                    content=tool_message_content(r.result, r.error),
                )
                for r in results
            )
        yield progress.done(iteration_limit, "iteration_limit")
    except AppError as exc:
        failure = progress.error(exc.code, exc.message)
    except Exception:
        logger.exception("agent run failed")
        failure = progress.error("AGENT_ERROR", "The agent run failed unexpectedly.")
    # Yielded outside the handlers so a suspended generator does not hold the exception.
    if failure is not None:
        yield failure
