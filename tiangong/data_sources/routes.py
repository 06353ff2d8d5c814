"""Every router of the data sources and uploads module, mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

routers: list[APIRouter] = []
