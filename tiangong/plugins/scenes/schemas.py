"""Scene templates: ready-made agents built from the scene-contract presets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tiangong.agents.schemas import AgentModelConfig
from tiangong.scene_contracts.schemas import Language, SceneContractRead


class SceneCategory(BaseModel):
    id: str
    name: str
    count: int


class SceneTemplateSummary(BaseModel):
    id: str
    name: str
    category: str
    category_name: str
    tags: list[str]
    description: str


class SceneTemplateList(BaseModel):
    items: list[SceneTemplateSummary]
    total: int


class SceneTemplateRead(SceneTemplateSummary):
    # The scene contract the agent is built from, and the system prompt it would get.
    contract: SceneContractRead
    language: Language
    system_prompt: str


class QuickCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)

    template_id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(
        default=None, min_length=1, max_length=100, description="default: the template's"
    )
    description: str | None = Field(default=None, max_length=16_000)
    language: Language = "zh"
    llm: AgentModelConfig | None = Field(default=None, alias="model_config")
