from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tiangong.chat.schemas import MAX_MESSAGE


class AgentChatExtra(BaseModel):
    model_config = ConfigDict(extra="allow")

    request_mode: str | None = None
    retry_group_id: str | None = Field(default=None, max_length=64)
    retry_from_user_message_id: int | None = Field(default=None, ge=1)
    retry_from_assistant_message_id: int | None = Field(default=None, ge=1)
    agent_id: str | None = Field(default=None, max_length=36)


class AgentChatRequest(BaseModel):
    conversation_id: uuid.UUID | None = None
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    model: str | None = Field(default=None, max_length=100)
    thinking: bool | None = None
    extra: AgentChatExtra = Field(default_factory=AgentChatExtra)

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must not be blank")
        return value


class ConversationListItem(BaseModel):
    conversation_id: str
    title: str
    has_title: bool
    message_count: int
    last_message_at: datetime | None
    status: str
    created_at: datetime | None


class ConversationListResponse(BaseModel):
    list: list[ConversationListItem]
    page: int
    page_size: int
    limit: int
    total: int
    has_more: bool


class ConversationHistoryItem(BaseModel):
    id: int | None
    role: Literal["user", "assistant", "system"]
    content: str
    created_at: datetime | None
    reasoning_content: str
    reasoning_duration_seconds: int
    retry_group_id: str | None
    retry_index: int | None
    retry_total: int | None


class Envelope(BaseModel):
    status: str
    info: str
    data: Any
