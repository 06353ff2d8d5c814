"""Every router of the goals and tasks module, mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

from tiangong.goals.endpoints import goals, tasks

routers: list[APIRouter] = [goals, tasks]
