"""Every router of the agent and template market module, mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

from tiangong.market.agent_endpoints import router as agent_market_router
from tiangong.market.template_endpoints import router as template_market_router

routers: list[APIRouter] = [agent_market_router, template_market_router]
