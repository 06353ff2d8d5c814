"""Every router of the permissions module (and collaboration), mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

from tiangong.permissions.collaboration import router as collaboration_router
from tiangong.permissions.endpoints import router as permissions_router

routers: list[APIRouter] = [permissions_router, collaboration_router]
