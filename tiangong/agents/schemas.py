from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AgentStatus = Literal["draft", "deployed", "stopped"]

# What a version snapshot and an export hold: the whole definition, never owner or status.
DEFINITION_FIELDS = (
    "name",
    "description",
    "system_prompt",
    "model_config",
    "iteration_limit",
    "include_tools",
    "knowledge_base_ids",
    "workflow_config",
    "settings",
)

# MySQL TEXT holds 65535 bytes; 16000 four-byte characters always fit.
_PROMPT_MAX = 16000
# A tool name or knowledge base id.
_Ref = Annotated[str, Field(min_length=1, max_length=200)]


class AgentModelConfig(BaseModel):
    """Which model an agent calls; free-form, but the known keys are checked."""

    model_config = ConfigDict(extra="allow")

    config_id: str | None = Field(default=None, min_length=1, max_length=100)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    provider: str | None = Field(default=None, min_length=1, max_length=32)
    model_name: str | None = Field(default=None, min_length=1, max_length=200)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    thinking: bool | None = None

    @model_validator(mode="after")
    def _no_secrets(self) -> AgentModelConfig:
        # Agents are returned and exported as plain JSON; keys live encrypted in model configs.
        if "api_key" in (self.model_extra or {}):
            raise ValueError("api_key is not allowed here; store it in a model config")
        return self


class WorkflowNode(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=100)
    type: str = Field(min_length=1, max_length=64)


class WorkflowEdge(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str = Field(min_length=1, max_length=100)
    target: str = Field(min_length=1, max_length=100)


class WorkflowConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    nodes: list[WorkflowNode] = Field(default_factory=list)
    edges: list[WorkflowEdge] = Field(default_factory=list)

    @model_validator(mode="after")
    def _graph_is_consistent(self) -> WorkflowConfig:
        ids: set[str] = set()
        for node in self.nodes:
            if node.id in ids:
                raise ValueError(f"duplicate node id '{node.id}'")
            ids.add(node.id)
        for i, edge in enumerate(self.edges):
            for end in ("source", "target"):
                if getattr(edge, end) not in ids:
                    raise ValueError(f"edge {i} {end} '{getattr(edge, end)}' is not a node id")
        return self


class _Definition(BaseModel):
    # "model_config" is Pydantic's own attribute, so the field gets another name and the alias.
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    def columns(self, *, only_set: bool = False) -> dict[str, Any]:
        """Column name -> value; nested objects keep exactly the keys that were sent."""
        names = self.model_fields_set if only_set else set(type(self).model_fields)
        values: dict[str, Any] = {}
        for name in names:
            value = getattr(self, name)
            if isinstance(value, BaseModel):
                value = value.model_dump(exclude_unset=True)
            values[type(self).model_fields[name].alias or name] = value
        return values


class AgentCreate(_Definition):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=_PROMPT_MAX)
    system_prompt: str = Field(default="", max_length=_PROMPT_MAX)
    llm: AgentModelConfig = Field(default_factory=AgentModelConfig, alias="model_config")
    iteration_limit: int = Field(default=15, ge=1, le=100)
    include_tools: list[_Ref] = Field(default_factory=list, max_length=200)
    knowledge_base_ids: list[_Ref] = Field(default_factory=list, max_length=200)
    workflow_config: WorkflowConfig | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()


class AgentImportDefinition(AgentCreate):
    """The "agent" object of an export file; its version is kept so a round trip is lossless."""

    version: int = Field(default=1, ge=1)


class AgentUpdate(_Definition):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=_PROMPT_MAX)
    system_prompt: str | None = Field(default=None, max_length=_PROMPT_MAX)
    llm: AgentModelConfig | None = Field(default=None, alias="model_config")
    iteration_limit: int | None = Field(default=None, ge=1, le=100)
    include_tools: list[_Ref] | None = Field(default=None, max_length=200)
    knowledge_base_ids: list[_Ref] | None = Field(default=None, max_length=200)
    # null removes the workflow; every other field must not be null.
    workflow_config: WorkflowConfig | None = None
    settings: dict[str, Any] | None = None

    @field_validator(
        "description",
        "system_prompt",
        "llm",
        "iteration_limit",
        "include_tools",
        "knowledge_base_ids",
        "settings",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str:
        if value is None or not value.strip():
            raise ValueError("name must not be blank or null")
        return value.strip()

    @model_validator(mode="after")
    def _not_empty(self) -> AgentUpdate:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        return self


class AgentDefinitionRead(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, from_attributes=True)

    name: str
    description: str
    system_prompt: str
    llm: dict[str, Any] = Field(alias="model_config")
    iteration_limit: int
    include_tools: list[str]
    knowledge_base_ids: list[str]
    workflow_config: dict[str, Any] | None
    settings: dict[str, Any]


class AgentRead(AgentDefinitionRead):
    id: str
    owner_id: str
    status: AgentStatus
    version: int
    is_main: bool
    created_at: datetime
    updated_at: datetime
    # Set when another user shared the agent with the caller: the permission they gave.
    shared: Literal["view", "edit"] | None = None


class AgentList(BaseModel):
    items: list[AgentRead]
    total: int
    page: int
    page_size: int


class AgentVersionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    created_at: datetime
    created_by: str | None


class AgentVersionRead(AgentVersionSummary):
    snapshot: AgentDefinitionRead


class ExportedAgent(AgentDefinitionRead):
    version: int


class AgentExport(BaseModel):
    format: Literal["tiangong.agent"] = "tiangong.agent"
    format_version: Literal[1] = 1
    exported_at: datetime
    agent: ExportedAgent
