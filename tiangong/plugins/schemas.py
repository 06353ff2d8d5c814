"""Plugin manifests, installations and the market."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tiangong.runtime.tools.http_tool import HttpToolConfig
from tiangong.scene_contracts.schemas import JsonSchema
from tiangong.tools.schemas import DEFAULT_SCHEMA

# Short enough that plugin__<plugin>__<tool> stays within the 64 characters LLM APIs accept.
PLUGIN_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,23}$"
TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,30}$"
# Semantic Versioning 2.0.0 (major.minor.patch, optional pre-release and build).
SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
MAX_TOOLS = 50


class PluginTool(BaseModel):
    """One tool of a plugin: the same HTTP definition a custom HTTP tool has."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=TOOL_NAME_PATTERN, description="letters, digits, _ and -")
    description: str = Field(min_length=1, max_length=4000)
    input_schema: JsonSchema = Field(default_factory=lambda: dict(DEFAULT_SCHEMA))
    http: HttpToolConfig
    requires_approval: bool = False

    @field_validator("http")
    @classmethod
    def _http_url(cls, value: HttpToolConfig) -> HttpToolConfig:
        # Where it may point is checked at every call (SSRF-safe client); here only its form.
        parts = urlsplit(value.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url must be an absolute http or https URL")
        return value


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("tools", check_fields=False)
    @classmethod
    def _unique_tools(cls, value: list[PluginTool] | None) -> list[PluginTool] | None:
        names = [tool.name for tool in value or []]
        if len(names) != len(set(names)):
            raise ValueError("tool names must be unique within a plugin")
        return value


class PluginCreate(_Manifest):
    name: str = Field(pattern=PLUGIN_NAME_PATTERN, description="lower-case letters, digits, _, -")
    version: str = Field(max_length=64, pattern=SEMVER_PATTERN)
    description: str = Field(default="", max_length=4000)
    author: str | None = Field(default=None, max_length=100, description="default: your nickname")
    icon: str = Field(default="", max_length=500, description="an image URL or an emoji")
    tools: list[PluginTool] = Field(min_length=1, max_length=MAX_TOOLS)


class PluginUpdate(_Manifest):
    """Partial; changing the tools needs a higher version, as installers get them at once."""

    name: str | None = Field(default=None, pattern=PLUGIN_NAME_PATTERN)
    version: str | None = Field(default=None, max_length=64, pattern=SEMVER_PATTERN)
    description: str | None = Field(default=None, max_length=4000)
    author: str | None = Field(default=None, max_length=100)
    icon: str | None = Field(default=None, max_length=500)
    tools: list[PluginTool] | None = Field(default=None, min_length=1, max_length=MAX_TOOLS)

    @model_validator(mode="after")
    def _not_empty(self) -> PluginUpdate:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        for key in self.model_fields_set:
            if getattr(self, key) is None:
                raise ValueError(f"{key} must not be null")
        return self


class InstallationRead(BaseModel):
    id: str
    enabled: bool
    secret_set: bool
    secret_masked: str | None
    installed_at: datetime
    updated_at: datetime


class PluginToolRead(PluginTool):
    # The name agents list in include_tools and GET /tools shows.
    qualified_name: str


class PluginRead(BaseModel):
    id: str
    owner_id: str
    name: str
    version: str
    description: str
    author: str
    icon: str
    tools: list[PluginToolRead]
    is_published: bool
    published_at: datetime | None
    install_count: int
    is_owner: bool
    # The caller's own installation, if any.
    installation: InstallationRead | None
    created_at: datetime
    updated_at: datetime


class PluginList(BaseModel):
    items: list[PluginRead]
    total: int
    page: int
    page_size: int


class PublishRequest(BaseModel):
    published: bool


class InstallRequest(BaseModel):
    secret: str | None = Field(
        default=None, min_length=1, max_length=4000, description="credential for the tools' auth"
    )


class InstallationUpdate(BaseModel):
    enabled: bool | None = None
    # Omit to keep the stored credential; "" removes it.
    secret: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _not_empty(self) -> InstallationUpdate:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        if "enabled" in self.model_fields_set and self.enabled is None:
            raise ValueError("enabled must not be null")
        return self


ListScope = Literal["own", "installed"]
