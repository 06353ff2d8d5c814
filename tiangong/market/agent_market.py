"""The agent market: listings published from agents; an install is a new agent of the caller's.

A snapshot is the agent's definition without what is private to its author or would not resolve
for anyone else: the model config keeps only its sampling parameters (no config id, model name
or alias; the installer's default model answers until they pick one), knowledge bases are left
out, and credential headers in the agent's workflow are blanked."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents import service as agents_service
from tiangong.agents.models import Agent
from tiangong.agents.schemas import AgentCreate, AgentRead, AgentUpdate
from tiangong.auth.models import User
from tiangong.errors import Conflict, NotFound
from tiangong.market import repository, scrub
from tiangong.market.models import MarketInstall
from tiangong.market.schemas import InstallRead
from tiangong.market.service import Copy, Market, Source, install_read, own_install

# The model config keys a snapshot carries; every other key names the author's own model.
_SAMPLING = ("temperature", "max_tokens", "thinking")


class AgentInstallResult(BaseModel):
    install: InstallRead
    agent: AgentRead


class AgentUpgradeResult(AgentInstallResult):
    # The agent's version before the upgrade; GET /agents/{id}/versions/{n} still has it.
    previous_agent_version: int


def snapshot(agent: Agent) -> dict[str, Any]:
    config = agent.model_config or {}
    return {
        "name": agent.name,
        "description": agent.description,
        "system_prompt": agent.system_prompt,
        "model_config": {key: config[key] for key in _SAMPLING if config.get(key) is not None},
        "iteration_limit": agent.iteration_limit,
        "include_tools": list(agent.include_tools),
        "workflow_config": scrub.graph(agent.workflow_config),
        "settings": dict(agent.settings),
    }


async def _load_source(session: AsyncSession, user: User, agent_id: str) -> Source:
    agent = await agents_service.get_visible(session, user, agent_id)
    # Only one's own agent can be published, even by an admin.
    if agent.owner_id != user.id:
        raise NotFound("Agent not found", code="AGENT_NOT_FOUND")
    return Source(id=agent.id, name=agent.name, version=agent.version, snapshot=snapshot(agent))


async def _make_copy(
    session: AsyncSession, user: User, content: dict[str, Any], name: str | None
) -> Copy[AgentRead]:
    data = AgentCreate.model_validate({**content, "name": name or content["name"]})
    made = await agents_service.create(session, user, data)
    return Copy(id=made.id, version=made.version, read=made)


AGENTS: Market[AgentRead] = Market(
    kind="agent",
    load_source=_load_source,
    make_copy=_make_copy,
    target=Agent,
    target_id=MarketInstall.agent_id,
)


async def upgrade(
    session: AsyncSession, user: User, listing_id: str, force: bool
) -> AgentUpgradeResult:
    """Bring the caller's installed agent to the listing's current version.

    The listing's definition replaces the agent's, except what is the installer's own: the
    agent's name, its knowledge bases and its model choice. That is a new agent version, so
    the previous definition stays readable (and restorable) in the agent's versions. An agent
    edited since install or the last upgrade is only overwritten with `force`."""
    listing, record = await own_install(session, user, AGENTS, listing_id)
    if record.listing_version >= listing.version:
        raise Conflict("Already at the listing's latest version", code="ALREADY_UP_TO_DATE")
    assert record.agent_id is not None
    agent = await agents_service.get_visible(session, user, record.agent_id)
    previous = agent.version
    if agent.version != record.target_version and not force:
        raise Conflict(
            "The installed agent was edited since it was installed; upgrade with force=true "
            "to replace it (its current definition stays in the agent's versions)",
            code="LOCAL_CHANGES",
            details={"agent_version": agent.version, "installed_version": record.target_version},
        )
    content = (await repository.version(session, listing.id, listing.version)).snapshot
    own_model = {k: v for k, v in (agent.model_config or {}).items() if k not in _SAMPLING}
    change = AgentUpdate.model_validate(
        {
            **{k: v for k, v in content.items() if k != "name"},
            "model_config": {**own_model, **content["model_config"]},
        }
    )
    read = await agents_service.update(session, user, agent.id, change)
    record.listing_version = listing.version
    record.target_version = read.version
    await session.flush()
    await session.refresh(record)
    return AgentUpgradeResult(
        install=install_read(record, listing, True, read.version),
        agent=read,
        previous_agent_version=previous,
    )
