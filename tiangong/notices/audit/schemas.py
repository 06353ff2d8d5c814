from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AuditLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    user_id: str
    method: str
    path: str
    action: str
    resource_type: str
    resource_id: str | None
    status_code: int
    ip: str | None
    duration_ms: float
    request_id: str | None


class AuditLogList(BaseModel):
    scope: str
    items: list[AuditLogRead]
    total: int
    page: int
    page_size: int


class Count(BaseModel):
    key: str
    count: int


class AuditStats(BaseModel):
    scope: str
    days: int
    since: datetime
    total: int
    failed: int
    by_action: list[Count]
    by_resource_type: list[Count]
    by_method: list[Count]
    by_day: list[Count]
