from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.node_templates import service
from tiangong.node_templates.node_types import catalogue
from tiangong.node_templates.schemas import (
    NodeTemplateCreate,
    NodeTemplateList,
    NodeTemplateRead,
    NodeTemplateUpdate,
    NodeTestRequest,
    NodeTestResult,
    NodeTypeRead,
)

router = APIRouter(prefix="/node-templates", tags=["node templates"])
node_test_router = APIRouter(prefix="/nodes", tags=["node templates"])


@router.get("", response_model=NodeTemplateList)
async def list_node_templates(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    node_type: Annotated[str | None, Query(max_length=64)] = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
) -> NodeTemplateList:
    return await service.list_templates(
        session, user, node_type=node_type, search=search, page=page, page_size=page_size
    )


@router.post("", response_model=NodeTemplateRead, status_code=201)
async def create_node_template(
    data: NodeTemplateCreate, session: SessionDep, user: CurrentUser
) -> NodeTemplateRead:
    return await service.create(session, user, data)


# Declared before /{template_id}, which would otherwise take "node-types" as an id.
@router.get("/node-types", response_model=list[NodeTypeRead])
async def list_node_types(user: CurrentUser) -> list[NodeTypeRead]:
    """Every node type: newest version, description and the JSON schema of its config."""
    return catalogue()


@router.get("/{template_id}", response_model=NodeTemplateRead)
async def get_node_template(
    template_id: str, session: SessionDep, user: CurrentUser
) -> NodeTemplateRead:
    return await service.get(session, user, template_id)


@router.put("/{template_id}", response_model=NodeTemplateRead)
async def update_node_template(
    template_id: str, data: NodeTemplateUpdate, session: SessionDep, user: CurrentUser
) -> NodeTemplateRead:
    return await service.update(session, user, template_id, data)


@router.delete("/{template_id}", status_code=204)
async def delete_node_template(
    template_id: str, session: SessionDep, user: CurrentUser
) -> Response:
    await service.delete(session, user, template_id)
    return Response(status_code=204)


@node_test_router.post("/test", response_model=NodeTestResult)
async def test_node(
    data: NodeTestRequest, session: SessionDep, user: CurrentUser
) -> NodeTestResult:
    """Run one node once with the given upstream outputs. A config that cannot run is a 422;
    a node that fails while running is a 200 with status "failed" (this is a debugging tool)."""
    return await service.test_node(session, user, data)
