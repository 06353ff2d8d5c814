"""Multi-agent orchestration templates: who takes part, and how they work together."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from tiangong.agents.schemas import AgentModelConfig

Mode = Literal["sequential", "parallel", "supervisor", "debate", "graph"]
RoleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
ToolRef = Annotated[str, StringConstraints(min_length=1, max_length=200)]
MAX_ROLES = 20


class InlineAgent(BaseModel):
    """An agent defined inside the template, for roles that need no saved agent."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

    system_prompt: str = Field(default="", max_length=16_000)
    llm: AgentModelConfig = Field(default_factory=AgentModelConfig, alias="model_config")
    include_tools: list[ToolRef] = Field(default_factory=list, max_length=200)


class Role(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName
    agent_id: str | None = Field(default=None, min_length=1, max_length=36)
    agent: InlineAgent | None = None
    instructions: str = Field(default="", max_length=4_000)

    @model_validator(mode="after")
    def _one_agent(self) -> Role:
        if (self.agent_id is None) == (self.agent is None):
            raise ValueError("give exactly one of agent_id and agent")
        return self


class Edge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: RoleName
    target: RoleName
    # When the hand-over happens, in words the orchestrator's model reads.
    condition: str | None = Field(default=None, max_length=500)


class OrchestrationTemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=4_000)
    mode: Mode
    roles: list[Role] = Field(min_length=1, max_length=MAX_ROLES)
    # sequential: the order roles take turns in (default: as listed).
    order: list[RoleName] = Field(default_factory=list, max_length=MAX_ROLES)
    # graph: who hands over to whom.
    edges: list[Edge] = Field(default_factory=list, max_length=100)
    # supervisor: the supervisor (required); parallel: the aggregator; debate: the judge.
    coordinator: RoleName | None = None
    max_rounds: int = Field(default=3, ge=1, le=50)


class OrchestrationTemplateUpdate(BaseModel):
    """Partial; the result is checked as a whole. coordinator: null removes it."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=4_000)
    mode: Mode | None = None
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=MAX_ROLES)
    order: list[RoleName] | None = Field(default=None, max_length=MAX_ROLES)
    edges: list[Edge] | None = Field(default=None, max_length=100)
    coordinator: RoleName | None = None
    max_rounds: int | None = Field(default=None, ge=1, le=50)

    @model_validator(mode="after")
    def _not_empty(self) -> OrchestrationTemplateUpdate:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        for key in self.model_fields_set - {"coordinator"}:
            if getattr(self, key) is None:
                raise ValueError(f"{key} must not be null")
        return self


class OrchestrationTemplateRead(OrchestrationTemplateCreate):
    model_config = ConfigDict(extra="ignore")

    id: str
    # Builtin examples belong to no one, cannot be changed and have no timestamps.
    owner_id: str | None
    builtin: bool
    read_only: bool
    created_at: datetime | None
    updated_at: datetime | None


class OrchestrationTemplateList(BaseModel):
    items: list[OrchestrationTemplateRead]
    total: int
    page: int
    page_size: int
