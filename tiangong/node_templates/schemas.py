from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class NodeTemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2_000)
    node_type: str = Field(min_length=1, max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class NodeTemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2_000)
    node_type: str | None = Field(default=None, min_length=1, max_length=64)
    config: dict[str, Any] | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)


class NodeTemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_id: str
    name: str
    description: str
    node_type: str
    config: dict[str, Any]
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class NodeTemplateList(BaseModel):
    items: list[NodeTemplateRead]
    total: int
    page: int
    page_size: int


class NodeTypeRead(BaseModel):
    type: str
    version: int
    versions: list[int]
    description: str
    # The JSON schema of the node's Pydantic config.
    config_schema: dict[str, Any]


class NodeSpecIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="node", min_length=1, max_length=100, pattern=r"^[\w-]+$")
    type: str = Field(min_length=1, max_length=64)
    version: int | None = Field(default=None, ge=1)
    config: dict[str, Any] = Field(default_factory=dict)


class NodeTestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node: NodeSpecIn
    # Upstream outputs by node id ("start" for the run's inputs): what {{node_id.field}} sees.
    inputs: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=100)], dict[str, Any]
    ] = Field(default_factory=dict, max_length=200)
    timeout_s: float = Field(default=30, gt=0, le=300)


class NodeTestResult(BaseModel):
    status: Literal["succeeded", "failed", "waiting"]
    outputs: dict[str, Any]
    branch: str | None
    error: dict[str, Any] | None
    duration_ms: float
    approval_id: str | None = None
