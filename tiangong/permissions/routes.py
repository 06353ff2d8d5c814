"""Every router of the permissions module, mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

routers: list[APIRouter] = []
