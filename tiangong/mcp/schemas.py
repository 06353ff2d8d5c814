from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

_NAME = r"^[a-zA-Z0-9_-]{1,32}$"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
# Set by the HTTP client or the MCP transport itself; a user value would break or spoof them.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "accept",
        "mcp-session-id",
        "mcp-protocol-version",
    }
)
MAX_HEADERS = 20


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers")
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"invalid header name {name!r}")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by the platform")
        if len(value) > 4000 or "\r" in value or "\n" in value:
            raise ValueError(f"invalid value for header {name!r}")
    return headers


Headers = Annotated[dict[str, str], AfterValidator(_check_headers)]
Arg = Annotated[str, Field(max_length=1000)]


class McpToolRead(BaseModel):
    name: str
    # The name agents list in include_tools.
    qualified_name: str
    description: str
    input_schema: dict[str, Any]


class McpServerRead(BaseModel):
    id: str
    name: str
    description: str
    transport: str
    url: str | None
    # Header values are secrets: only their names are ever shown.
    header_names: list[str]
    command: str | None
    args: list[str]
    enabled: bool
    timeout_s: float
    tools: list[McpToolRead]
    last_error: str | None
    last_listed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class McpServerList(BaseModel):
    items: list[McpServerRead]
    total: int


class McpServerCreate(BaseModel):
    name: str = Field(pattern=_NAME, description="letters, digits, _ and -")
    description: str = Field(default="", max_length=2000)
    transport: Literal["http", "stdio"] = "http"
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    headers: Headers = Field(default_factory=dict)
    command: str | None = Field(default=None, min_length=1, max_length=500)
    args: list[Arg] = Field(default_factory=list, max_length=50)
    enabled: bool = True
    timeout_s: float = Field(default=60, gt=0, le=300)

    @model_validator(mode="after")
    def _fields_match_transport(self) -> McpServerCreate:
        if self.transport == "http" and (self.url is None or self.command or self.args):
            raise ValueError("an http server needs 'url' and no 'command' or 'args'")
        if self.transport == "stdio" and (self.command is None or self.url or self.headers):
            raise ValueError("a stdio server needs 'command' and no 'url' or 'headers'")
        return self


class McpServerUpdate(BaseModel):
    name: str | None = Field(default=None, pattern=_NAME)
    description: str | None = Field(default=None, max_length=2000)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    # Omit to keep the stored headers; {} removes them all.
    headers: Headers | None = None
    command: str | None = Field(default=None, min_length=1, max_length=500)
    args: list[Arg] | None = Field(default=None, max_length=50)
    enabled: bool | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=300)

    @model_validator(mode="after")
    def _not_empty(self) -> McpServerUpdate:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        return self


class McpToolCall(BaseModel):
    arguments: dict[str, Any] = Field(default_factory=dict)
