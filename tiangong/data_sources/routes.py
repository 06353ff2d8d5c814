"""Every router of the data sources and uploads module, mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

from tiangong.data_sources.endpoints import router as data_sources_router
from tiangong.data_sources.uploads import router as uploads_router

routers: list[APIRouter] = [data_sources_router, uploads_router]
