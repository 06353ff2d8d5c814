from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

GoalStatus = Literal["draft", "running", "paused", "completed", "failed"]
TaskStatus = Literal[
    "pending", "claimed", "in_progress", "awaiting_approval", "completed", "failed", "cancelled"
]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
MAX_DEPENDENCIES = 50


class GoalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    agent_id: Id | None = None


class GoalUpdate(BaseModel):
    """Partial update; `agent_id: null` unbinds the agent, other nulls keep the value."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    agent_id: Id | None = None


class Progress(BaseModel):
    total: int
    completed: int
    failed: int
    # Completed share of the tasks that count (cancelled ones do not), 0-100.
    percent: float
    by_status: dict[str, int]


class Interaction(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    at: datetime


class GoalRead(BaseModel):
    id: str
    owner_id: str
    agent_id: str | None
    title: str
    description: str
    status: GoalStatus
    progress: Progress
    run_id: str | None
    run_active: bool
    run_error: str | None
    created_at: datetime
    updated_at: datetime


class GoalList(BaseModel):
    items: list[GoalRead]
    total: int
    page: int
    page_size: int


class PlanRequest(BaseModel):
    """What decompose and replan take: a bound on the plan and optional guidance."""

    model_config = ConfigDict(extra="forbid")

    max_tasks: int = Field(default=20, ge=1, le=50)
    instructions: str = Field(default="", max_length=4_000)


class RunHandle(BaseModel):
    goal_id: str
    run_id: str
    status: Literal["queued"]
    goal_status: GoalStatus


class InteractRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=8_000)


class InteractReply(BaseModel):
    goal_id: str
    reply: str
    history: list[Interaction]


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goal_id: Id
    title: Title
    description: Description = ""
    parent_id: Id | None = None
    depends_on: list[Id] = Field(default_factory=list, max_length=MAX_DEPENDENCIES)
    agent_id: Id | None = None
    requires_approval: bool = False
    priority: int = Field(default=0, ge=-1000, le=1000)
    order: int = Field(default=0, ge=0, le=1_000_000)


class TaskUpdate(BaseModel):
    """Partial update; `parent_id`/`agent_id: null` clear them, other nulls keep the value.
    The only status a client sets directly is `cancelled` (of an unfinished task)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    parent_id: Id | None = None
    depends_on: list[Id] | None = Field(default=None, max_length=MAX_DEPENDENCIES)
    agent_id: Id | None = None
    requires_approval: bool | None = None
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    order: int | None = Field(default=None, ge=0, le=1_000_000)
    status: Literal["cancelled"] | None = None


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    goal_id: str
    parent_id: str | None
    agent_id: str | None
    title: str
    description: str
    status: TaskStatus
    depends_on: list[str]
    requires_approval: bool
    priority: int
    order: int
    result: str | None
    error: str | None
    attempts: int
    claimed_by: str | None
    claimed_at: datetime | None
    session_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TaskNode(TaskRead):
    children: list[TaskNode] = Field(default_factory=list)


class TaskTree(BaseModel):
    goal_id: str
    progress: Progress
    tasks: list[TaskNode]


class TaskList(BaseModel):
    items: list[TaskRead]
    total: int
    page: int
    page_size: int


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Who takes the task (an agent, a person, a worker); the caller's user id by default.
    claimer: str | None = Field(default=None, min_length=1, max_length=100)


class CompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: str = Field(default="", max_length=50_000)


class FailRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: str = Field(min_length=1, max_length=10_000)


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=10_000)


class Blockers(BaseModel):
    task_id: str
    blocked: bool
    blockers: list[TaskRead]
