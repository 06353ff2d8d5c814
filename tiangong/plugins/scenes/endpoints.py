"""/platform: scene templates and quick creation of agents from them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tiangong.agents.schemas import AgentRead
from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.plugins.scenes import service, templates
from tiangong.plugins.scenes.schemas import (
    QuickCreateRequest,
    SceneCategory,
    SceneTemplateList,
    SceneTemplateRead,
)
from tiangong.scene_contracts.schemas import Language

router = APIRouter(prefix="/platform", tags=["platform"])


@router.get("/scene-templates", response_model=SceneTemplateList)
async def list_scene_templates(
    user: CurrentUser, category: Annotated[str | None, Query(max_length=50)] = None
) -> SceneTemplateList:
    items = templates.summaries(category)
    return SceneTemplateList(items=items, total=len(items))


@router.get("/scene-templates/{template_id}", response_model=SceneTemplateRead)
async def get_scene_template(
    template_id: str, user: CurrentUser, language: Annotated[Language, Query()] = "zh"
) -> SceneTemplateRead:
    """The template with its scene contract and the system prompt its agent gets."""
    return templates.get(template_id, language)


@router.get("/categories", response_model=list[SceneCategory])
async def list_categories(user: CurrentUser) -> list[SceneCategory]:
    return templates.categories()


@router.post("/quick-create", response_model=AgentRead, status_code=201)
async def quick_create(
    data: QuickCreateRequest, session: SessionDep, user: CurrentUser
) -> AgentRead:
    """A draft agent for you, with the template's contract as its system prompt; use it through
    /agents like any other."""
    return await service.quick_create(session, user, data)
