"""Every router of the agent and template market module, mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

routers: list[APIRouter] = []
