"""/tools: the catalogue, custom tools, direct use, tests, OpenAPI import and approvals."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.runtime.tools import BUILTIN
from tiangong.tools import approvals, service
from tiangong.tools.schemas import (
    ApprovalDecision,
    ApprovalRead,
    CategoryCount,
    CodeRunRead,
    CodeToolTest,
    HttpToolTest,
    OpenAPIImport,
    OpenAPIImportResult,
    ToolCreate,
    ToolList,
    ToolRead,
    ToolUpdate,
    ToolUse,
    ToolUseResult,
)

router = APIRouter(prefix="/tools", tags=["tools"])


@router.get("", response_model=ToolList)
async def list_tools(
    session: SessionDep,
    user: CurrentUser,
    category: Annotated[str | None, Query(max_length=32)] = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
    kind: Annotated[Literal["builtin", "http", "code", "plugin"] | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 100,
) -> ToolList:
    return await service.list_tools(
        session, user, category=category, search=search, kind=kind, page=page, page_size=page_size
    )


# Fixed paths before "/{tool_id}".
@router.get("/categories", response_model=list[CategoryCount])
async def list_categories(session: SessionDep, user: CurrentUser) -> list[CategoryCount]:
    return await service.categories(session, user)


@router.get("/builtin", response_model=list[ToolRead])
async def list_builtin(user: CurrentUser) -> list[ToolRead]:
    return [service.builtin_read(tool) for tool in BUILTIN.all()]


@router.post("/test/http", response_model=ToolUseResult)
async def test_http_tool(
    data: HttpToolTest, session: SessionDep, user: CurrentUser
) -> ToolUseResult:
    """Run an HTTP tool definition once without saving it."""
    return await service.test_http(session, user, data)


@router.post("/test/code", response_model=CodeRunRead)
async def test_code_tool(data: CodeToolTest, user: CurrentUser) -> CodeRunRead:
    """Run code in the sandbox once without saving it."""
    return await service.test_code(data)


@router.post("/import/openapi", response_model=OpenAPIImportResult, status_code=201)
async def import_openapi(
    data: OpenAPIImport, session: SessionDep, user: CurrentUser
) -> OpenAPIImportResult:
    """Create one HTTP tool per operation of an OpenAPI 3 document."""
    return await service.import_openapi(session, user, data)


@router.get("/approvals", response_model=list[ApprovalRead])
async def list_approvals(
    session: SessionDep,
    user: CurrentUser,
    status: Annotated[
        Literal["pending", "approved", "rejected", "expired"] | None, Query()
    ] = "pending",
) -> list[ApprovalRead]:
    return await approvals.list_approvals(session, user, status)


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalRead)
async def approve(
    approval_id: str, data: ApprovalDecision, session: SessionDep, user: CurrentUser
) -> ApprovalRead:
    return await approvals.decide(session, user, approval_id, True, data.reason)


@router.post("/approvals/{approval_id}/reject", response_model=ApprovalRead)
async def reject(
    approval_id: str, data: ApprovalDecision, session: SessionDep, user: CurrentUser
) -> ApprovalRead:
    return await approvals.decide(session, user, approval_id, False, data.reason)


@router.get("/{tool_id}", response_model=ToolRead)
async def get_tool(tool_id: str, session: SessionDep, user: CurrentUser) -> ToolRead:
    return await service.get(session, user, tool_id)


@router.post("", response_model=ToolRead, status_code=201)
async def create_tool(data: ToolCreate, session: SessionDep, user: CurrentUser) -> ToolRead:
    return await service.create(session, user, data)


@router.put("/{tool_id}", response_model=ToolRead)
async def update_tool(
    tool_id: str, data: ToolUpdate, session: SessionDep, user: CurrentUser
) -> ToolRead:
    return await service.update(session, user, tool_id, data)


@router.delete("/{tool_id}", status_code=204)
async def delete_tool(tool_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete(session, user, tool_id)
    return Response(status_code=204)


@router.post("/{tool_id}/use", response_model=ToolUseResult)
async def use_tool(
    tool_id: str, data: ToolUse, session: SessionDep, user: CurrentUser
) -> ToolUseResult:
    return await service.use(session, user, tool_id, data.arguments)
