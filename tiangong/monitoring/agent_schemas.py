"""Responses of /agent-monitoring, read from the LLM call log, conversations and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tiangong.monitoring.scope import ScopeName

Outcome = Literal["ok", "error", "cancelled"]


class Tokens(BaseModel):
    prompt: int
    completion: int
    # Part of `completion`, reported separately by reasoning models.
    reasoning: int
    total: int


class Spread(BaseModel):
    """Milliseconds: the average over the window; percentiles over its newest calls."""

    avg: float | None
    p50: float | None
    p95: float | None


class AgentOverview(BaseModel):
    days: int
    scope: ScopeName
    agent_id: str | None
    calls: int
    ok: int
    errors: int
    cancelled: int
    # errors / calls; None without calls.
    error_rate: float | None
    tokens: Tokens
    latency_ms: Spread
    ttft_ms: Spread
    # Distinct agents with at least one call in the window.
    active_agents: int
    # How many of the newest calls the percentiles were computed over.
    percentile_sample: int


class LLMCallRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    agent_id: str | None
    agent_name: str | None = None
    conversation_id: str | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    ttft_ms: float | None
    latency_ms: float
    outcome: str
    error_code: str | None


class CallSummary(BaseModel):
    """A group of calls: a model's, an agent's or a day's."""

    calls: int
    errors: int
    tokens: Tokens
    avg_latency_ms: float | None


class ModelStats(CallSummary):
    model: str
    avg_ttft_ms: float | None


class LLMCallList(BaseModel):
    items: list[LLMCallRead]
    total: int
    page: int
    page_size: int
    # Over every call that matches the filters, not only this page.
    by_model: list[ModelStats]


class AgentStats(CallSummary):
    agent_id: str
    name: str
    status: str
    # Conversations started and messages written in the window.
    conversations: int
    messages: int
    # The latest call or message, at any time.
    last_active_at: datetime | None


class AgentStatsList(BaseModel):
    days: int
    scope: ScopeName
    items: list[AgentStats]
    total: int
    page: int
    page_size: int


class ToolUsage(BaseModel):
    name: str
    calls: int
    failed: int
    avg_duration_ms: float | None
    # Calls an agent made in a chat, and tool nodes of workflow runs.
    chat_calls: int
    workflow_calls: int
    # Approval requests by status: pending, approved, rejected, expired.
    approvals: dict[str, int]


class ToolUsageStats(BaseModel):
    days: int
    scope: ScopeName
    agent_id: str | None
    items: list[ToolUsage]
    # Chat tool calls are counted over the newest messages that have any, up to a cap;
    # `truncated`: the cap was reached, so older messages of the window may be left out.
    messages_scanned: int
    truncated: bool


class DayTrend(CallSummary):
    date: str


class DailyTrend(BaseModel):
    days: int
    scope: ScopeName
    agent_id: str | None
    items: list[DayTrend]
