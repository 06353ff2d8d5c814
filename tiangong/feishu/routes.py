"""Every router of the feishu and swarm module, mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

routers: list[APIRouter] = []
