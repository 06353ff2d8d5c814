"""/orchestration-templates: multi-agent orchestration templates, own and builtin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.plugins.orchestration import service
from tiangong.plugins.orchestration.schemas import (
    Mode,
    OrchestrationTemplateCreate,
    OrchestrationTemplateList,
    OrchestrationTemplateRead,
    OrchestrationTemplateUpdate,
)

router = APIRouter(prefix="/orchestration-templates", tags=["orchestration templates"])


@router.get("", response_model=OrchestrationTemplateList)
async def list_orchestration_templates(
    session: SessionDep,
    user: CurrentUser,
    mode: Annotated[Mode | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    builtin: Annotated[
        bool | None, Query(description="true: only builtin; false: only yours")
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrchestrationTemplateList:
    """The builtin examples (builtin=true, read-only) first, then yours, newest first."""
    return await service.list_templates(
        session,
        user,
        mode=mode,
        search=q,
        builtin_filter=builtin,
        page=page,
        page_size=page_size,
    )


@router.post("", response_model=OrchestrationTemplateRead, status_code=201)
async def create_orchestration_template(
    data: OrchestrationTemplateCreate, session: SessionDep, user: CurrentUser
) -> OrchestrationTemplateRead:
    """Checked as a whole for its mode; a structural problem is 422 INVALID_ORCHESTRATION."""
    return await service.create(session, user, data)


@router.get("/{template_id}", response_model=OrchestrationTemplateRead)
async def get_orchestration_template(
    template_id: str, session: SessionDep, user: CurrentUser
) -> OrchestrationTemplateRead:
    return await service.get(session, user, template_id)


@router.put("/{template_id}", response_model=OrchestrationTemplateRead)
async def update_orchestration_template(
    template_id: str, data: OrchestrationTemplateUpdate, session: SessionDep, user: CurrentUser
) -> OrchestrationTemplateRead:
    return await service.update(session, user, template_id, data)


@router.delete("/{template_id}", status_code=204)
async def delete_orchestration_template(
    template_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    await service.delete(session, user, template_id)
    return Response(status_code=204)
