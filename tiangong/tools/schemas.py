from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from tiangong.runtime.tools.code_tool import CodeToolConfig
from tiangong.runtime.tools.http_tool import HttpToolConfig

NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
DEFAULT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


class ToolRead(BaseModel):
    id: str
    name: str
    description: str
    category: str
    # builtin | http | code | plugin
    kind: str
    requires_approval: bool
    enabled: bool = True
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    secret_set: bool = False
    secret_masked: str | None = None
    source: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ToolList(BaseModel):
    items: list[ToolRead]
    total: int
    page: int
    page_size: int


class CategoryCount(BaseModel):
    category: str
    count: int


class ToolCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="letters, digits, _ and -")
    description: str = Field(min_length=1, max_length=4000)
    kind: Literal["http", "code"]
    category: str = Field(default="custom", min_length=1, max_length=32)
    input_schema: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_SCHEMA))
    http: HttpToolConfig | None = None
    code: CodeToolConfig | None = None
    secret: str | None = Field(default=None, max_length=4000, description="credential for auth")
    requires_approval: bool = False
    enabled: bool = True

    @model_validator(mode="after")
    def _config_matches_kind(self) -> ToolCreate:
        if self.kind == "http" and self.http is None:
            raise ValueError("an http tool needs the 'http' config")
        if self.kind == "code" and self.code is None:
            raise ValueError("a code tool needs the 'code' config")
        return self


class ToolUpdate(BaseModel):
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    description: str | None = Field(default=None, min_length=1, max_length=4000)
    category: str | None = Field(default=None, min_length=1, max_length=32)
    input_schema: dict[str, Any] | None = None
    http: HttpToolConfig | None = None
    code: CodeToolConfig | None = None
    # Omit to keep the stored credential; "" removes it.
    secret: str | None = Field(default=None, max_length=4000)
    requires_approval: bool | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ToolUpdate:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        return self


class ToolUse(BaseModel):
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolUseResult(BaseModel):
    tool: str
    ok: bool
    result: Any = None
    error: str | None = None
    duration_ms: float


class HttpToolTest(BaseModel):
    http: HttpToolConfig
    input_schema: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_SCHEMA))
    arguments: dict[str, Any] = Field(default_factory=dict)
    secret: str | None = Field(default=None, max_length=4000)


class CodeToolTest(BaseModel):
    language: Literal["python", "javascript"] = "python"
    code: str = Field(min_length=1, max_length=100_000)
    inputs: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=10, gt=0, le=60)
    memory_mb: int = Field(default=256, ge=16, le=2048)


class CodeRunRead(BaseModel):
    ok: bool
    result: Any
    stdout: str
    stderr: str
    error: str | None
    exit_code: int | None
    duration_ms: float


class OpenAPIImport(BaseModel):
    spec: dict[str, Any] | str | None = Field(
        default=None, description="the OpenAPI 3 document, as JSON or as YAML/JSON text"
    )
    url: str | None = Field(default=None, max_length=2000, description="fetch the document")
    base_url: str | None = Field(default=None, max_length=2000)
    name_prefix: str = Field(default="", pattern=r"^[a-zA-Z0-9_-]{0,20}$")
    auth: dict[str, Any] | None = None
    secret: str | None = Field(default=None, max_length=4000)
    requires_approval: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> OpenAPIImport:
        if (self.spec is None) == (self.url is None):
            raise ValueError("give exactly one of 'spec' or 'url'")
        return self


class OpenAPIImportResult(BaseModel):
    created: list[ToolRead]


class ApprovalRead(BaseModel):
    id: str
    tool_name: str
    arguments: dict[str, Any]
    status: str
    agent_id: str | None
    conversation_id: str | None
    reason: str | None
    created_at: datetime
    decided_at: datetime | None


class ApprovalDecision(BaseModel):
    reason: str | None = Field(default=None, max_length=500)
