from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class MessageView(BaseModel):
    """One message as every history read returns it, from the cache or the database alike."""

    model_config = ConfigDict(from_attributes=True)

    id: int | None
    uid: str
    conversation_id: str
    role: str
    content: str
    created_at: datetime
    reasoning_content: str = ""
    reasoning_duration_seconds: int = 0
    status: str = "complete"
    error: str | None = None
    retry_group_id: str | None = None
    retry_index: int | None = None
    # Derived at read time from the group's members, never stored.
    retry_total: int | None = None
    model: str | None = None
    token_usage: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    citations: list[dict[str, Any]] | None = None


class ConversationView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    agent_id: str | None
    source: str
    title: str
    has_title: bool
    status: str
    message_count: int
    last_message_at: datetime | None
    created_at: datetime
    parent_id: str | None = None
    fork_message_id: int | None = None
    branch_name: str | None = None
