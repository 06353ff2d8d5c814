"""Every router of the plugins, orchestration templates and platform module."""

from __future__ import annotations

from fastapi import APIRouter

from tiangong.plugins.endpoints import router as plugins_router
from tiangong.plugins.orchestration.endpoints import router as orchestration_router
from tiangong.plugins.scenes.endpoints import router as scenes_router

routers: list[APIRouter] = [plugins_router, orchestration_router, scenes_router]
