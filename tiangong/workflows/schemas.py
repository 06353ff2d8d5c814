from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WorkflowStatus = Literal["draft", "active", "archived"]
RunStatus = Literal["queued", "running", "paused", "succeeded", "failed", "cancelled"]


class WorkflowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2_000)
    definition: dict[str, Any] = Field(default_factory=lambda: {"nodes": [], "edges": []})
    status: WorkflowStatus = "draft"


class WorkflowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2_000)
    definition: dict[str, Any] | None = None
    status: WorkflowStatus | None = None


class WorkflowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_id: str
    name: str
    description: str
    definition: dict[str, Any]
    version: int
    status: str
    created_at: datetime
    updated_at: datetime


class WorkflowList(BaseModel):
    items: list[WorkflowRead]
    total: int
    page: int
    page_size: int


class WorkflowVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    snapshot: dict[str, Any]
    created_by: str | None
    created_at: datetime


class ValidateRequest(BaseModel):
    definition: dict[str, Any]


class ValidateResult(BaseModel):
    valid: bool
    problems: list[dict[str, Any]]


class WorkflowExport(BaseModel):
    format: str
    format_version: int
    workflow: dict[str, Any]


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["sync", "async"] = "sync"
    timeout_s: float = Field(default=30, gt=0, le=600)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class ExecutionCreate(ExecuteRequest):
    workflow_id: str = Field(min_length=1, max_length=36)


class NodeRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    node_id: str
    node_type: str
    status: str
    attempts: int
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    branch: str | None
    error: dict[str, Any] | None
    approval_id: str | None
    duration_ms: float | None = None
    started_at: datetime | None
    finished_at: datetime | None


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    workflow_id: str
    version: int
    owner_id: str
    status: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    idempotency_key: str | None
    trigger: str = "api"
    parent_run_id: str | None = None
    pause_requested: bool = False
    overrides: dict[str, Any] | None = None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    created_at: datetime


class RunDetail(RunRead):
    nodes: list[NodeRunRead] = Field(default_factory=list)
    pending_approvals: list[dict[str, str]] = Field(default_factory=list)


class RunList(BaseModel):
    items: list[RunRead]
    total: int
    page: int
    page_size: int


class Decision(BaseModel):
    approved: bool
    comment: str | None = Field(default=None, max_length=2_000)


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: dict[str, Decision] = Field(default_factory=dict)


class RerunRequest(BaseModel):
    """Run a failed run again from `from_node`: nodes not downstream of it keep their recorded
    outcome; `overrides` edit config fields of `from_node` or of nodes after it."""

    model_config = ConfigDict(extra="forbid")

    from_node: str = Field(min_length=1, max_length=100)
    overrides: dict[str, Annotated[dict[str, Any], Field(max_length=50)]] = Field(
        default_factory=dict, max_length=100
    )
