from __future__ import annotations

from fastapi import APIRouter

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.market import agent_market, service
from tiangong.market.agent_market import AGENTS, AgentInstallResult, AgentUpgradeResult
from tiangong.market.endpoints import market_router
from tiangong.market.schemas import InstallRequest, UpgradeRequest

router: APIRouter = market_router("/agent-market", "agent market", AGENTS)


@router.post("/{listing_id}/install", response_model=AgentInstallResult, status_code=201)
async def install_agent(
    listing_id: str, session: SessionDep, user: CurrentUser, data: InstallRequest | None = None
) -> AgentInstallResult:
    """A new draft agent of the caller's from the listing's current version. Once per user:
    installing again is a 409 ALREADY_INSTALLED naming the existing agent."""
    name = data.name if data is not None else None
    install, agent = await service.install(session, user, AGENTS, listing_id, name)
    return AgentInstallResult(install=install, agent=agent)


@router.post("/{listing_id}/upgrade", response_model=AgentUpgradeResult)
async def upgrade_agent(
    listing_id: str, session: SessionDep, user: CurrentUser, data: UpgradeRequest | None = None
) -> AgentUpgradeResult:
    """Bring the caller's installed agent to the listing's latest version (a new agent
    version; the old definition stays in the agent's versions). An agent edited since install
    needs force=true."""
    force = data.force if data is not None else False
    return await agent_market.upgrade(session, user, listing_id, force)
