from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ApprovalRead(BaseModel):
    approval_id: str
    run_id: str
    workflow_id: str
    workflow_name: str
    node_id: str
    title: str
    message: str
    # What the node showed the approver (its `data` config, references resolved).
    data: dict[str, object] = Field(default_factory=dict)
    waiting_since: datetime


class ApprovalList(BaseModel):
    items: list[ApprovalRead]
    total: int
    page: int
    page_size: int


class ApprovalDecide(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approved: bool
    comment: str | None = Field(default=None, max_length=2_000)
