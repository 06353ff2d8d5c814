from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.workflows.schemas import WorkflowRead
from tiangong.workflows.templates import catalogue, service
from tiangong.workflows.templates.schemas import (
    TemplateCreateRequest,
    WorkflowTemplateDetail,
    WorkflowTemplateSummary,
)

router = APIRouter(prefix="/workflows/templates", tags=["workflow templates"])


@router.get("", response_model=list[WorkflowTemplateSummary])
async def list_templates(
    user: CurrentUser,
    category: Annotated[str | None, Query(max_length=100)] = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
) -> list[WorkflowTemplateSummary]:
    return catalogue.list_templates(category=category, search=search)


@router.get("/{template_id}", response_model=WorkflowTemplateDetail)
async def get_template(template_id: str, user: CurrentUser) -> WorkflowTemplateDetail:
    return catalogue.get_template(template_id)


@router.post("/{template_id}/create", response_model=WorkflowRead, status_code=201)
async def create_from_template(
    template_id: str,
    session: SessionDep,
    user: CurrentUser,
    data: TemplateCreateRequest | None = None,
) -> WorkflowRead:
    """A new workflow of yours from the template; `name`/`description` override its own."""
    return await service.create_from_template(
        session, user, template_id, data or TemplateCreateRequest()
    )
