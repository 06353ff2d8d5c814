from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from tiangong.agents import service
from tiangong.agents.schemas import (
    AgentCreate,
    AgentExport,
    AgentList,
    AgentRead,
    AgentStatus,
    AgentUpdate,
    AgentVersionRead,
    AgentVersionSummary,
)
from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", response_model=AgentList)
async def list_agents(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    search: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[AgentStatus | None, Query()] = None,
) -> AgentList:
    return await service.list_agents(
        session, user, page=page, page_size=page_size, search=search, status=status
    )


@router.post("", response_model=AgentRead, status_code=201)
async def create_agent(data: AgentCreate, session: SessionDep, user: CurrentUser) -> AgentRead:
    return await service.create(session, user, data)


# Declared before "/{agent_id}" routes so "import" is never taken for an id.
@router.post("/import", response_model=AgentRead, status_code=201)
async def import_agent(
    body: Annotated[dict[str, Any], Body(description="a document from GET /agents/{id}/export")],
    session: SessionDep,
    user: CurrentUser,
) -> AgentRead:
    return await service.import_agent(session, user, body)


@router.get("/{agent_id}", response_model=AgentRead)
async def get_agent(agent_id: str, session: SessionDep, user: CurrentUser) -> AgentRead:
    return await service.get(session, user, agent_id)


@router.put("/{agent_id}", response_model=AgentRead)
async def update_agent(
    agent_id: str, data: AgentUpdate, session: SessionDep, user: CurrentUser
) -> AgentRead:
    """Change only the given fields; a real change bumps the version and keeps a snapshot."""
    return await service.update(session, user, agent_id, data)


@router.delete("/{agent_id}", status_code=204)
async def delete_agent(agent_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Unbinds the agent's conversations and call logs, then deletes it."""
    await service.delete(session, user, agent_id)
    return Response(status_code=204)


@router.get("/{agent_id}/versions", response_model=list[AgentVersionSummary])
async def list_versions(
    agent_id: str, session: SessionDep, user: CurrentUser
) -> list[AgentVersionSummary]:
    return await service.list_versions(session, user, agent_id)


@router.get("/{agent_id}/versions/{version}", response_model=AgentVersionRead)
async def get_version(
    agent_id: str,
    version: Annotated[int, Path(ge=1)],
    session: SessionDep,
    user: CurrentUser,
) -> AgentVersionRead:
    return await service.get_version(session, user, agent_id, version)


@router.post("/{agent_id}/deploy", response_model=AgentRead)
async def deploy_agent(agent_id: str, session: SessionDep, user: CurrentUser) -> AgentRead:
    return await service.deploy(session, user, agent_id)


@router.post("/{agent_id}/stop", response_model=AgentRead)
async def stop_agent(agent_id: str, session: SessionDep, user: CurrentUser) -> AgentRead:
    return await service.stop(session, user, agent_id)


@router.post("/{agent_id}/duplicate", response_model=AgentRead, status_code=201)
async def duplicate_agent(agent_id: str, session: SessionDep, user: CurrentUser) -> AgentRead:
    """A deep copy owned by the caller: a new draft at version 1."""
    return await service.duplicate(session, user, agent_id)


@router.get("/{agent_id}/export", response_model=AgentExport)
async def export_agent(agent_id: str, session: SessionDep, user: CurrentUser) -> AgentExport:
    return await service.export(session, user, agent_id)


@router.post("/{agent_id}/create-main-agent", response_model=AgentRead)
async def create_main_agent(agent_id: str, session: SessionDep, user: CurrentUser) -> AgentRead:
    """Make this the owner's main agent; any previous main agent of the owner is un-marked."""
    return await service.make_main(session, user, agent_id)
