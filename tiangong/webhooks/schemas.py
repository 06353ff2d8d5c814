from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class WebhookRead(BaseModel):
    workflow_id: str
    enabled: bool
    url_by_id: str
    url_by_name: str
    secret_set: bool = True
    last_triggered_at: datetime | None
    created_at: datetime


class WebhookCreated(BaseModel):
    """The only answer that carries the secret: it is never shown again."""

    workflow_id: str
    enabled: bool
    url_by_id: str
    url_by_name: str
    secret: str
