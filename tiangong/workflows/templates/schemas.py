from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TemplateInput(BaseModel):
    name: str
    type: str
    required: bool
    default: Any = None
    description: str = ""


class WorkflowTemplateSummary(BaseModel):
    id: str
    name: str
    description: str
    category: str
    tags: list[str]
    node_types: list[str]
    inputs: list[TemplateInput]
    required_inputs: list[str]


class WorkflowTemplateDetail(WorkflowTemplateSummary):
    definition: dict[str, Any]
    # JSON schema of the run's inputs (the body's `inputs` of POST /workflows/{id}/execute).
    input_schema: dict[str, Any]


class TemplateCreateRequest(BaseModel):
    """Both optional: the template's own name and description are used otherwise."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2_000)
