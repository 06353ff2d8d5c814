from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Feishu open_ids look like "ou_" + 32 hex characters; allow some room, nothing exotic.
OPEN_ID_PATTERN = r"^[A-Za-z0-9_\-]+$"
OpenId = Field(min_length=1, max_length=64, pattern=OPEN_ID_PATTERN)


class BindRequest(BaseModel):
    open_id: str = OpenId
    # Admins may bind another user (active at once); others bind themselves (pending).
    user_id: str | None = Field(default=None, max_length=36)


class OpenIdRequest(BaseModel):
    open_id: str = OpenId


class UnbindRequest(BaseModel):
    # Without an open_id: the caller's own binding.
    open_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=OPEN_ID_PATTERN)


class BindDecision(BaseModel):
    open_id: str = OpenId
    action: Literal["approve", "reject"]


class BindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    open_id: str
    user_id: str
    status: str
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime


class BindingLookup(BindingRead):
    nickname: str | None = None
    email: str | None = None


class BindingList(BaseModel):
    items: list[BindingLookup]
    total: int
    page: int
    page_size: int


class BindingCounts(BaseModel):
    active: int
    pending: int


class FeishuStatus(BaseModel):
    configured: bool
    app_id_set: bool
    app_secret_set: bool
    verification_token_set: bool
    encrypt_key_set: bool
    global_default_agent_set: bool
    bindings: BindingCounts
    my_binding: BindingRead | None


class DefaultAgentSet(BaseModel):
    # null clears the choice (the global default, if any, applies again).
    agent_id: str | None = Field(max_length=36)


# user: the caller chose it; global: TIANGONG_FEISHU_DEFAULT_AGENT_ID; none: the default model
AgentSource = Literal["user", "global", "none"]


class DefaultAgentRead(BaseModel):
    agent_id: str | None
    agent_name: str | None
    source: AgentSource


class EventAck(BaseModel):
    ok: bool = True
    duplicate: bool = False
