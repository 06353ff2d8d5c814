"""Every router of the Feishu and swarm modules, mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

from tiangong.feishu.endpoints import router as feishu_router
from tiangong.swarm.endpoints import router as swarm_router

routers: list[APIRouter] = [feishu_router, swarm_router]
