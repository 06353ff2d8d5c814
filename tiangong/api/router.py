"""Every module's router, mounted under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from tiangong.auth.endpoints import router as auth_router
from tiangong.model_configs.endpoints import router as model_configs_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth_router)
api_router.include_router(model_configs_router)
