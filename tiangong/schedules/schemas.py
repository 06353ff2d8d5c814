from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tiangong.chat.schemas import MAX_MESSAGE

TargetType = Literal["agent", "workflow"]


class AgentPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE)


class WorkflowPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(default_factory=dict)


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2_000)
    target_type: TargetType
    target_id: str = Field(min_length=1, max_length=36)
    cron: str = Field(min_length=1, max_length=100)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    # agent: {"message": "..."}; workflow: {"inputs": {...}}
    payload: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class ScheduleUpdate(BaseModel):
    """The target stays; a schedule for something else is a new schedule."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2_000)
    cron: str | None = Field(default=None, min_length=1, max_length=100)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    payload: dict[str, Any] | None = None
    enabled: bool | None = None


class ScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_id: str
    name: str
    description: str
    target_type: str
    target_id: str
    cron: str
    timezone: str
    payload: dict[str, Any]
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ScheduleDetail(ScheduleRead):
    # The next fire times in the schedule's time zone (with its UTC offset).
    next_runs: list[datetime] = Field(default_factory=list)


class ScheduleList(BaseModel):
    items: list[ScheduleRead]
    total: int
    page: int
    page_size: int


class ScheduleRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    schedule_id: str
    due_at: datetime
    trigger: str
    status: str
    result_id: str | None
    error: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


class ScheduleRunList(BaseModel):
    items: list[ScheduleRunRead]
    total: int
    page: int
    page_size: int


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = Field(min_length=1, max_length=100)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    count: int = Field(default=5, ge=1, le=50)


class PreviewResult(BaseModel):
    next_runs: list[datetime]
