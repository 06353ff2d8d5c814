from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents import repository
from tiangong.agents.models import Agent, AgentVersion
from tiangong.agents.schemas import (
    DEFINITION_FIELDS,
    AgentCreate,
    AgentDefinitionRead,
    AgentExport,
    AgentImportDefinition,
    AgentList,
    AgentRead,
    AgentUpdate,
    AgentVersionRead,
    AgentVersionSummary,
    ExportedAgent,
)
from tiangong.auth.models import User
from tiangong.errors import BadRequest, Conflict, NotFound, ValidationFailed
from tiangong.permissions.scope import levels as grant_levels
from tiangong.schedules import repository as schedules_repository

EXPORT_FORMAT = "tiangong.agent"
EXPORT_FORMAT_VERSION = 1
_COPY_SUFFIX = " (copy)"
# (from, to) pairs; anything else is a 409.
_TRANSITIONS = {("draft", "deployed"), ("stopped", "deployed"), ("deployed", "stopped")}


def to_read(agent: Agent) -> AgentRead:
    return AgentRead.model_validate(agent)


def _snapshot(agent: Agent) -> dict[str, Any]:
    return {field: copy.deepcopy(getattr(agent, field)) for field in DEFINITION_FIELDS}


def _version_row(agent: Agent, user: User) -> AgentVersion:
    return AgentVersion(
        agent_id=agent.id, version=agent.version, snapshot=_snapshot(agent), created_by=user.id
    )


async def _new_agent(
    session: AsyncSession, user: User, definition: dict[str, Any], version: int = 1
) -> Agent:
    """A fresh draft owned by the caller, with the snapshot of its first stored version."""
    agent = Agent(owner_id=user.id, status="draft", version=version, is_main=False, **definition)
    await repository.add(session, agent)
    await repository.add(session, _version_row(agent, user))
    await session.refresh(agent)
    return agent


async def get_visible(
    session: AsyncSession, user: User, agent_id: str, access: repository.Access = "owner"
) -> Agent:
    """The agent if the caller may see it (owner or admin, or with `access` "view"/"edit" a
    user it was shared with); used by chat as well."""
    agent = await repository.get_visible(session, user, agent_id, access)
    if agent is None:
        raise NotFound("Agent not found", code="AGENT_NOT_FOUND")
    return agent


async def _reads(session: AsyncSession, user: User, agents: list[Agent]) -> list[AgentRead]:
    """Agents shared with the caller carry the permission they were given."""
    others = [agent.id for agent in agents if agent.owner_id != user.id]
    shared = await grant_levels(session, user.id, "agent", others)
    return [to_read(agent).model_copy(update={"shared": shared.get(agent.id)}) for agent in agents]


async def list_agents(
    session: AsyncSession,
    user: User,
    *,
    page: int,
    page_size: int,
    search: str | None = None,
    status: str | None = None,
) -> AgentList:
    rows, total = await repository.list_visible(
        session,
        user,
        search=search,
        status=status,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    return AgentList(
        items=await _reads(session, user, rows), total=total, page=page, page_size=page_size
    )


async def create(session: AsyncSession, user: User, data: AgentCreate) -> AgentRead:
    return to_read(await _new_agent(session, user, data.columns()))


async def get(session: AsyncSession, user: User, agent_id: str) -> AgentRead:
    return (await _reads(session, user, [await get_visible(session, user, agent_id, "view")]))[0]


async def update(session: AsyncSession, user: User, agent_id: str, data: AgentUpdate) -> AgentRead:
    agent = await get_visible(session, user, agent_id, "edit")
    changes = {
        key: value
        for key, value in data.columns(only_set=True).items()
        if getattr(agent, key) != value
    }
    # Every updatable field is part of the definition, so any real change is a new version.
    if changes:
        for key, value in changes.items():
            setattr(agent, key, value)
        agent.version += 1
        await repository.add(session, _version_row(agent, user))
        await session.refresh(agent)
    return (await _reads(session, user, [agent]))[0]


async def delete(session: AsyncSession, user: User, agent_id: str) -> None:
    agent = await get_visible(session, user, agent_id)
    # Its schedules go with it, in the same transaction.
    await schedules_repository.delete_for_target(session, "agent", agent.id)
    await repository.delete_agent(session, agent)


async def list_versions(
    session: AsyncSession, user: User, agent_id: str
) -> list[AgentVersionSummary]:
    await get_visible(session, user, agent_id, "view")
    rows = await repository.list_versions(session, user, agent_id)
    return [AgentVersionSummary.model_validate(row) for row in rows]


async def get_version(
    session: AsyncSession, user: User, agent_id: str, version: int
) -> AgentVersionRead:
    await get_visible(session, user, agent_id, "view")
    row = await repository.get_version(session, user, agent_id, version)
    if row is None:
        raise NotFound(f"Agent has no version {version}", code="AGENT_VERSION_NOT_FOUND")
    return AgentVersionRead(
        version=row.version,
        created_at=row.created_at,
        created_by=row.created_by,
        snapshot=AgentDefinitionRead.model_validate(row.snapshot),
    )


async def _transition(session: AsyncSession, user: User, agent_id: str, target: str) -> AgentRead:
    agent = await get_visible(session, user, agent_id)
    if (agent.status, target) not in _TRANSITIONS:
        raise Conflict(
            f"Cannot change agent status from '{agent.status}' to '{target}'",
            code="INVALID_STATUS_TRANSITION",
        )
    # Status is not part of the definition, so the version stays.
    agent.status = target
    await session.flush()
    await session.refresh(agent)
    return to_read(agent)


async def deploy(session: AsyncSession, user: User, agent_id: str) -> AgentRead:
    return await _transition(session, user, agent_id, "deployed")


async def stop(session: AsyncSession, user: User, agent_id: str) -> AgentRead:
    return await _transition(session, user, agent_id, "stopped")


async def duplicate(session: AsyncSession, user: User, agent_id: str) -> AgentRead:
    source = await get_visible(session, user, agent_id)
    definition = _snapshot(source)
    definition["name"] = source.name[: 100 - len(_COPY_SUFFIX)] + _COPY_SUFFIX
    return to_read(await _new_agent(session, user, definition))


async def make_main(session: AsyncSession, user: User, agent_id: str) -> AgentRead:
    """One main agent per owner: marking this one un-marks the owner's previous one."""
    agent = await get_visible(session, user, agent_id)
    await repository.clear_main(session, agent.owner_id)
    agent.is_main = True
    await session.flush()
    await session.refresh(agent)
    return to_read(agent)


async def export(session: AsyncSession, user: User, agent_id: str) -> AgentExport:
    agent = await get_visible(session, user, agent_id)
    # Built from the definition only: no owner id, no status, and secrets are refused on write.
    return AgentExport(
        exported_at=datetime.now(UTC),
        agent=ExportedAgent.model_validate({**_snapshot(agent), "version": agent.version}),
    )


def _parse_export(body: dict[str, Any]) -> AgentImportDefinition:
    if body.get("format") != EXPORT_FORMAT:
        raise BadRequest(
            f"Not an agent export: 'format' must be '{EXPORT_FORMAT}'", code="INVALID_AGENT_EXPORT"
        )
    format_version = body.get("format_version")
    if type(format_version) is not int:
        raise BadRequest("'format_version' must be an integer", code="INVALID_AGENT_EXPORT")
    if format_version != EXPORT_FORMAT_VERSION:
        raise BadRequest(
            f"Export format version {format_version} is not supported "
            f"(supported: {EXPORT_FORMAT_VERSION})",
            code="UNSUPPORTED_FORMAT_VERSION",
        )
    try:
        return AgentImportDefinition.model_validate(body.get("agent"))
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(["agent", *(str(part) for part in err["loc"])]),
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        raise ValidationFailed(
            f"Invalid agent export: {summary}", code="INVALID_AGENT_EXPORT", details=details
        ) from None


async def import_agent(session: AsyncSession, user: User, body: dict[str, Any]) -> AgentRead:
    """A new draft owned by the caller; the exported version number is kept."""
    data = _parse_export(body)
    definition = data.columns()
    version = definition.pop("version")
    return to_read(await _new_agent(session, user, definition, version=version))
