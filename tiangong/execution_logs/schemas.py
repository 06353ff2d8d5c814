from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["queued", "running", "paused", "succeeded", "failed", "cancelled"]
RunTrigger = Literal["api", "webhook", "schedule", "batch", "sub_workflow", "rerun"]


class NodeLog(BaseModel):
    """One node's log entry: everything the engine recorded for it."""

    node_id: str
    node_type: str
    status: str
    attempts: int
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    branch: str | None
    error: dict[str, Any] | None
    handling: str | None
    approval_id: str | None
    logs: list[Any]
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None


class RunLog(BaseModel):
    id: str
    workflow_id: str
    workflow_name: str | None
    version: int
    status: str
    trigger: str
    error: dict[str, Any] | None
    parent_run_id: str | None
    parent_node_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None


class RunLogDetail(RunLog):
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    nodes: list[NodeLog]


class RunLogList(BaseModel):
    items: list[RunLog]
    total: int
    page: int
    page_size: int


class DayCount(BaseModel):
    date: str
    total: int
    succeeded: int
    failed: int


class FailingNode(BaseModel):
    workflow_id: str
    node_id: str
    node_type: str
    failures: int


class LogStats(BaseModel):
    days: int
    total: int
    by_status: dict[str, int]
    # succeeded / (succeeded + failed + cancelled); None when nothing finished.
    success_rate: float | None
    avg_duration_ms: float | None
    p95_duration_ms: float | None
    per_day: list[DayCount]
    top_failing_nodes: list[FailingNode]


class NodeTiming(BaseModel):
    node_id: str
    node_type: str
    status: str
    duration_ms: float
    # This node's duration over the run's total duration.
    share: float | None
    # From the moment its last predecessor finished (or the run started) to its own start.
    wait_ms: float | None
    started_at: datetime | None
    finished_at: datetime | None


class TypeTiming(BaseModel):
    node_type: str
    count: int
    total_ms: float
    share: float | None


class CriticalPath(BaseModel):
    node_ids: list[str]
    duration_ms: float


class RunPerformance(BaseModel):
    run_id: str
    status: str
    total_ms: float | None
    # created -> started: time spent waiting for a worker.
    queue_ms: float | None
    # Sum of node durations (more than total_ms when branches ran concurrently).
    node_time_ms: float
    # Time inside the run when no node was running.
    idle_ms: float | None
    slowest: list[NodeTiming]
    by_type: list[TypeTiming]
    critical_path: CriticalPath | None
    critical_path_note: str | None = None


class Call(BaseModel):
    """A nested call made by a node: an agent, a tool, a model, or a sub-workflow run."""

    kind: Literal["agent", "tool", "llm", "sub_workflow"]
    name: str | None
    conversation_id: str | None = None
    run: ChainRun | None = None
    # Set when the depth limit stopped before this call's run was expanded.
    truncated: bool = False
    calls: list[Call] = Field(default_factory=list)


class ChainNode(BaseModel):
    node_id: str
    node_type: str
    status: str
    duration_ms: float | None
    calls: list[Call]


class ChainRun(BaseModel):
    run_id: str
    workflow_id: str
    workflow_name: str | None
    status: str
    trigger: str
    depth: int
    duration_ms: float | None
    nodes: list[ChainNode]
    # Child runs whose parent_node_id names no node of this run.
    calls: list[Call] = Field(default_factory=list)


Call.model_rebuild()


class RetentionRead(BaseModel):
    retention_days: int
    # True when no policy was set and the server default applies.
    is_default: bool


class RetentionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: int = Field(ge=1, le=3650)
