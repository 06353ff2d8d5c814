from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tiangong.conversations.schemas import MessageView

MAX_MESSAGE = 32_000


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    session_id: str | None = Field(default=None, max_length=36)
    streamlined: bool = False


class BareChatRequest(ChatRequest):
    model: str | None = Field(default=None, max_length=100, description="model config name/alias")
    system_prompt: str | None = Field(default=None, max_length=MAX_MESSAGE)
    thinking: bool | None = None


class ChatReply(BaseModel):
    session_id: str
    reply: str
    message_id: int | None = None
    user_message_id: int | None = None
    agent_id: str | None = None
    status: str | None = None
    reasoning_content: str | None = None
    reasoning_duration_seconds: int | None = None
    tool_calls: list[dict[str, Any]] | None = None
    token_usage: dict[str, Any] | None = None


class BranchCreate(BaseModel):
    session_id: str = Field(max_length=36)
    message_id: int = Field(ge=1, description="fork after this message (it is kept)")
    name: str | None = Field(default=None, max_length=100)


class BranchRead(BaseModel):
    id: str
    session_id: str
    parent_session_id: str | None
    fork_message_id: int | None
    name: str | None
    agent_id: str | None
    message_count: int
    created_at: datetime


class BranchDetail(BranchRead):
    messages: list[MessageView]


class BranchList(BaseModel):
    items: list[BranchRead]
    total: int


class BranchResume(BaseModel):
    message: str | None = Field(default=None, min_length=1, max_length=MAX_MESSAGE)
    streamlined: bool = False
