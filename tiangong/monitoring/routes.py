"""The monitoring routers, for the API router to mount under /api/v1."""

from __future__ import annotations

from tiangong.monitoring.agent_endpoints import router as agent_monitoring_router
from tiangong.monitoring.system_endpoints import router as monitoring_router

routers = [monitoring_router, agent_monitoring_router]
