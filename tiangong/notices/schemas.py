from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    title: str
    body: str
    link: str | None
    resource_type: str | None
    resource_id: str | None
    read: bool
    read_at: datetime | None
    created_at: datetime


class NotificationList(BaseModel):
    items: list[NotificationRead]
    total: int
    unread: int
    page: int
    page_size: int


class UnreadCount(BaseModel):
    unread: int


class ReadAllResult(BaseModel):
    updated: int
