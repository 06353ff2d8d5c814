from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, Field, field_validator, model_validator

Provider = Literal[
    "openai", "deepseek", "qwen", "moonshot", "zhipu", "ollama", "vllm", "openai_compatible"
]

_ALIAS_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class _Params(BaseModel):
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    thinking: bool | None = None
    context_window: int | None = Field(default=None, ge=512, le=10_000_000)
    extra_params: dict[str, Any] | None = None


class ModelConfigCreate(_Params):
    name: str = Field(min_length=1, max_length=100)
    alias: str | None = Field(default=None, pattern=_ALIAS_PATTERN)
    provider: Provider = "openai_compatible"
    base_url: AnyHttpUrl | None = None
    model_name: str = Field(min_length=1, max_length=200)
    api_key: str | None = Field(default=None, max_length=1000)
    is_default: bool = False
    shared: bool = False

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()


class ModelConfigUpdate(_Params):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    alias: str | None = Field(default=None, pattern=_ALIAS_PATTERN)
    provider: Provider | None = None
    base_url: AnyHttpUrl | None = None
    model_name: str | None = Field(default=None, min_length=1, max_length=200)
    # Omit to keep the stored key; send "" to remove it.
    api_key: str | None = Field(default=None, max_length=1000)
    is_default: bool | None = None
    shared: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ModelConfigUpdate:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        return self


class ModelConfigRead(BaseModel):
    id: str
    source: Literal["user", "shared", "env"]
    name: str
    alias: str | None
    provider: str
    base_url: str
    model_name: str
    api_key_set: bool
    api_key_masked: str | None
    temperature: float | None
    max_tokens: int | None
    thinking: bool
    context_window: int
    extra_params: dict[str, Any]
    is_default: bool
    shared: bool
    owner_id: str | None
    created_at: datetime | None
    updated_at: datetime | None


class ModelConfigList(BaseModel):
    items: list[ModelConfigRead]
    total: int
    page: int
    page_size: int


class ModelTestResult(BaseModel):
    ok: bool
    latency_ms: float
    model: str
    reply: str | None = None
    error: str | None = None
    message: str | None = None
