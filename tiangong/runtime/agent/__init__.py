"""The agent loop over a chat model: typed events, tool execution and context budgeting."""

from tiangong.runtime.agent.context import build_context
from tiangong.runtime.agent.events import (
    AgentEvent,
    DoneEvent,
    ErrorEvent,
    ReasoningEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from tiangong.runtime.agent.loop import run_agent
from tiangong.runtime.agent.tokens import count_tokens, message_tokens
from tiangong.runtime.agent.tools import ToolExecutor, tool_message_content

__all__ = [
    "AgentEvent",
    "DoneEvent",
    "ErrorEvent",
    "ReasoningEvent",
    "TokenEvent",
    "ToolCallEvent",
    "ToolExecutor",
    "ToolResultEvent",
    "build_context",
    "count_tokens",
    "message_tokens",
    "run_agent",
    "tool_message_content",
]
