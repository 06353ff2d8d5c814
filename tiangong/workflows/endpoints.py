from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.workflows import service
from tiangong.workflows.schemas import (
    ExecuteRequest,
    ExecutionCreate,
    RerunRequest,
    ResumeRequest,
    RunDetail,
    RunList,
    RunStatus,
    ValidateRequest,
    ValidateResult,
    WorkflowCreate,
    WorkflowExport,
    WorkflowList,
    WorkflowRead,
    WorkflowUpdate,
    WorkflowVersionRead,
)

router = APIRouter(prefix="/workflows", tags=["workflows"])
executions_router = APIRouter(prefix="/executions", tags=["workflow executions"])


@router.get("", response_model=WorkflowList)
async def list_workflows(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    search: Annotated[str | None, Query(max_length=100)] = None,
) -> WorkflowList:
    return await service.list_workflows(
        session, user, page=page, page_size=page_size, search=search
    )


@router.post("", response_model=WorkflowRead, status_code=201)
async def create_workflow(
    data: WorkflowCreate, session: SessionDep, user: CurrentUser
) -> WorkflowRead:
    return await service.create(session, user, data)


@router.post("/validate", response_model=ValidateResult)
async def validate_workflow(data: ValidateRequest, user: CurrentUser) -> ValidateResult:
    """Every problem of the definition, each with its node id; 200 whether valid or not."""
    return service.check(data.definition)


@router.post("/import", response_model=WorkflowRead, status_code=201)
async def import_workflow(request: Request, session: SessionDep, user: CurrentUser) -> WorkflowRead:
    """A document from GET /workflows/{id}/export; becomes a new workflow at version 1."""
    return await service.import_workflow(session, user, await request.body())


@router.get("/{workflow_id}", response_model=WorkflowRead)
async def get_workflow(workflow_id: str, session: SessionDep, user: CurrentUser) -> WorkflowRead:
    return await service.get(session, user, workflow_id)


@router.put("/{workflow_id}", response_model=WorkflowRead)
async def update_workflow(
    workflow_id: str, data: WorkflowUpdate, session: SessionDep, user: CurrentUser
) -> WorkflowRead:
    """Every save is a new version."""
    return await service.update_workflow(session, user, workflow_id, data)


@router.delete("/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete(session, user, workflow_id)
    return Response(status_code=204)


@router.get("/{workflow_id}/export", response_model=WorkflowExport)
async def export_workflow(
    workflow_id: str, session: SessionDep, user: CurrentUser
) -> WorkflowExport:
    return await service.export(session, user, workflow_id)


@router.get("/{workflow_id}/versions", response_model=list[WorkflowVersionRead])
async def list_versions(
    workflow_id: str, session: SessionDep, user: CurrentUser
) -> list[WorkflowVersionRead]:
    return await service.list_versions(session, user, workflow_id)


@router.get("/{workflow_id}/versions/{version}", response_model=WorkflowVersionRead)
async def get_version(
    workflow_id: str,
    version: Annotated[int, Path(ge=1)],
    session: SessionDep,
    user: CurrentUser,
) -> WorkflowVersionRead:
    return await service.get_version(session, user, workflow_id, version)


@router.post("/{workflow_id}/versions/{version}/rollback", response_model=WorkflowRead)
async def rollback(
    workflow_id: str,
    version: Annotated[int, Path(ge=1)],
    session: SessionDep,
    user: CurrentUser,
) -> WorkflowRead:
    """A new version equal to `version`."""
    return await service.rollback(session, user, workflow_id, version)


@router.post("/{workflow_id}/execute", response_model=RunDetail)
async def execute(
    workflow_id: str, data: ExecuteRequest, session: SessionDep, user: CurrentUser
) -> Response:
    """sync: waits up to timeout_s and returns the run (maybe still running); async: 202 with
    the run at once. A repeated idempotency_key returns the same run."""
    run, _created = await service.execute(session, user, workflow_id, data)
    status = 202 if data.mode == "async" else 200
    return JSONResponse(run.model_dump(mode="json"), status_code=status)


@executions_router.post("", response_model=RunDetail)
async def create_execution(
    data: ExecutionCreate, session: SessionDep, user: CurrentUser
) -> Response:
    """Same as POST /workflows/{workflow_id}/execute, with the workflow named in the body."""
    request = ExecuteRequest.model_validate(data.model_dump(exclude={"workflow_id"}))
    run, _created = await service.execute(session, user, data.workflow_id, request)
    status = 202 if data.mode == "async" else 200
    return JSONResponse(run.model_dump(mode="json"), status_code=status)


@executions_router.get("", response_model=RunList)
async def list_runs(
    session: SessionDep,
    user: CurrentUser,
    workflow_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> RunList:
    return await service.list_runs(
        session, user, workflow_id=workflow_id, status=status, page=page, page_size=page_size
    )


@executions_router.get("/{run_id}", response_model=RunDetail)
async def get_run(run_id: str, session: SessionDep, user: CurrentUser) -> RunDetail:
    return await service.get_run(session, user, run_id)


@executions_router.post("/{run_id}/cancel", response_model=RunDetail)
async def cancel_run(run_id: str, session: SessionDep, user: CurrentUser) -> RunDetail:
    return await service.cancel(session, user, run_id)


@executions_router.post("/{run_id}/resume", response_model=RunDetail)
async def resume_run(
    run_id: str,
    session: SessionDep,
    user: CurrentUser,
    data: ResumeRequest | None = None,
    wait_s: Annotated[float, Query(ge=0, le=600)] = 0,
) -> RunDetail:
    """Continue a paused run with approval decisions ({approval_id: {approved, comment}}), or
    retry a failed one. `wait_s` waits that long for the run before answering."""
    return await service.resume(session, user, run_id, data or ResumeRequest(), wait_s=wait_s)


@executions_router.post("/{run_id}/pause", response_model=RunDetail)
async def pause_run(
    run_id: str,
    session: SessionDep,
    user: CurrentUser,
    wait_s: Annotated[float, Query(ge=0, le=600)] = 0,
) -> RunDetail:
    """Stop launching nodes; the running ones finish, then the run is `paused` (resume it with
    POST /resume). 409 for a run that is not running."""
    return await service.pause(session, user, run_id, wait_s=wait_s)


@executions_router.post("/{run_id}/rerun", response_model=RunDetail, status_code=201)
async def rerun(
    run_id: str,
    data: RerunRequest,
    session: SessionDep,
    user: CurrentUser,
    wait_s: Annotated[float, Query(ge=0, le=600)] = 0,
) -> RunDetail:
    """A new run of a failed run from `from_node`, with edited node configs (`overrides`)."""
    return await service.rerun(session, user, run_id, data, wait_s=wait_s)
