from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

Source = Literal["audit", "llm", "workflow"]
Level = Literal["info", "warning", "error"]
AppLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SystemLogEntry(BaseModel):
    id: str
    source: Source
    level: Level
    time: datetime
    message: str
    user_id: str | None
    resource_type: str | None
    resource_id: str | None
    details: dict[str, Any]


class SystemLogList(BaseModel):
    scope: str
    items: list[SystemLogEntry]
    total: int
    page: int
    page_size: int


class SourceLevelCount(BaseModel):
    source: Source
    level: Level
    count: int


class SystemLogStats(BaseModel):
    scope: str
    hours: int
    since: datetime
    total: int
    by_source: dict[str, int]
    by_level: dict[str, int]
    breakdown: list[SourceLevelCount]


class AppLogRecord(BaseModel):
    time: datetime
    level: str
    logger: str
    message: str
    request_id: str
    exception: str | None


class AppLogList(BaseModel):
    items: list[AppLogRecord]
    capacity: int
