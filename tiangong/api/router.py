"""Every module's router, mounted under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from tiangong.agents.endpoints import router as agents_router
from tiangong.approvals.endpoints import router as approvals_router
from tiangong.auth.endpoints import router as auth_router
from tiangong.batch.endpoints import router as batch_router
from tiangong.chat.agent_runs import router as agent_runs_router
from tiangong.chat.endpoints import router as chat_router
from tiangong.data_sources.routes import routers as data_sources_routers
from tiangong.execution_logs.endpoints import router as execution_logs_router
from tiangong.feishu.routes import routers as feishu_routers
from tiangong.goals.routes import routers as goals_routers
from tiangong.knowledge.endpoints import router as knowledge_router
from tiangong.market.routes import routers as market_routers
from tiangong.mcp.endpoints import router as mcp_router
from tiangong.model_configs.endpoints import router as model_configs_router
from tiangong.monitoring.routes import routers as monitoring_routers
from tiangong.node_templates.endpoints import node_test_router
from tiangong.node_templates.endpoints import router as node_templates_router
from tiangong.notices.routes import routers as notices_routers
from tiangong.permissions.routes import routers as permissions_routers
from tiangong.plugins.routes import routers as plugins_routers
from tiangong.scene_contracts.endpoints import router as scene_contracts_router
from tiangong.schedules.endpoints import router as schedules_router
from tiangong.smartflow.endpoints import router as smartflow_router
from tiangong.tools.endpoints import router as tools_router
from tiangong.webhooks.endpoints import manage_router as webhooks_manage_router
from tiangong.webhooks.endpoints import trigger_router as webhooks_trigger_router
from tiangong.workflows.endpoints import executions_router
from tiangong.workflows.endpoints import router as workflows_router
from tiangong.workflows.templates.endpoints import router as workflow_templates_router
from tiangong.workflows.watch import router as workflow_watch_router

api_router = APIRouter(prefix="/api/v1")
# Routes are matched in order, one router after another: machine-driven hot paths come first
# (webhook deliveries, chat streams); their prefixes are not shared with the routers below.
# The chat and SmartFlow routers' lean routes are also matched ahead of all this by
# `HotRoutes` (see app.py), which relies on nothing before them taking the same paths.
api_router.include_router(webhooks_trigger_router)
api_router.include_router(chat_router)
api_router.include_router(smartflow_router)
api_router.include_router(auth_router)
api_router.include_router(model_configs_router)
api_router.include_router(agents_router)
api_router.include_router(agent_runs_router)
api_router.include_router(tools_router)
api_router.include_router(mcp_router)
api_router.include_router(knowledge_router)
# Before workflows_router, whose /workflows/{workflow_id} would take "templates" as an id.
api_router.include_router(workflow_templates_router)
api_router.include_router(workflows_router)
api_router.include_router(executions_router)
api_router.include_router(workflow_watch_router)
api_router.include_router(approvals_router)
api_router.include_router(node_templates_router)
api_router.include_router(node_test_router)
api_router.include_router(scene_contracts_router)
api_router.include_router(execution_logs_router)
api_router.include_router(webhooks_manage_router)
api_router.include_router(schedules_router)
api_router.include_router(batch_router)
for router in (
    *monitoring_routers,
    *goals_routers,
    *notices_routers,
    *permissions_routers,
    *market_routers,
    *plugins_routers,
    *data_sources_routers,
    *feishu_routers,
):
    api_router.include_router(router)


def freeze(router: APIRouter) -> None:
    """Fix the routing table once every route is added.

    FastAPI (0.165) re-derives a version number for the whole router tree, walking every
    included router, each time a request is matched (several times per request), so that
    routes added later are picked up. The table here is complete once the app is built, and
    that walk was a measurable share of every request's time. Each router's version is computed
    once and kept; a later FastAPI without this method simply ignores the attribute."""
    seen: set[int] = set()

    def walk(current: APIRouter) -> None:
        if id(current) in seen:
            return
        seen.add(id(current))
        for route in current.routes:
            child = getattr(route, "original_router", None)
            if isinstance(child, APIRouter):
                walk(child)
        if hasattr(current, "_get_routes_version"):
            version = current._get_routes_version()
            current._get_routes_version = lambda seen=None: version  # type: ignore[method-assign]

    walk(router)
