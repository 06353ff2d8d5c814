"""Every router of the goals and tasks module, mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

routers: list[APIRouter] = []
