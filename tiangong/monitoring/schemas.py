"""Responses of /monitoring: the caller's (or, for admins with scope=all, everyone's) system."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from tiangong.monitoring.scope import ScopeName

ActivityType = Literal["workflow_run", "agent", "conversation", "knowledge_document"]


class AgentCounts(BaseModel):
    total: int
    deployed: int


class RunCounts(BaseModel):
    """Workflow runs created in the window, by their status now."""

    total: int
    queued: int
    running: int
    paused: int
    succeeded: int
    failed: int
    cancelled: int


class ConversationCounts(BaseModel):
    total: int
    # Started in the window.
    recent: int


class CallCounts(BaseModel):
    """LLM calls made in the window."""

    total: int
    errors: int


class KnowledgeCounts(BaseModel):
    bases: int
    documents: int


class ToolCounts(BaseModel):
    """Custom tools (HTTP and code); builtin tools are the same for everyone."""

    custom: int
    enabled: int


class SystemOverview(BaseModel):
    days: int
    scope: ScopeName
    since: datetime
    agents: AgentCounts
    workflows: int
    workflow_runs: RunCounts
    conversations: ConversationCounts
    # Messages written in the window.
    messages: int
    llm_calls: CallCounts
    knowledge: KnowledgeCounts
    tools: ToolCounts


class DayRuns(BaseModel):
    date: str
    total: int
    by_status: dict[str, int]


class ExecutionStats(BaseModel):
    days: int
    scope: ScopeName
    workflow_id: str | None
    total: int
    by_status: dict[str, int]
    by_trigger: dict[str, int]
    # succeeded / (succeeded + failed + cancelled); None when nothing finished.
    success_rate: float | None
    # Over the newest finished runs of the window, at most `duration_sample` of them.
    avg_duration_ms: float | None
    p95_duration_ms: float | None
    duration_sample: int
    per_day: list[DayRuns]


class NodeTypeUsage(BaseModel):
    node_type: str
    count: int
    succeeded: int
    failed: int
    skipped: int
    # Over the node runs that recorded a duration.
    avg_duration_ms: float | None


class NodeTypeStats(BaseModel):
    days: int
    scope: ScopeName
    items: list[NodeTypeUsage]


class Activity(BaseModel):
    type: ActivityType
    id: str
    title: str
    status: str
    at: datetime


class ActivityFeed(BaseModel):
    scope: ScopeName
    items: list[Activity]
