"""Every router of this module (notifications, alert rules, audit and system logs,
feedback), mounted by tiangong.api.router."""

from __future__ import annotations

from fastapi import APIRouter

from tiangong.notices.alerts.endpoints import router as alert_rules_router
from tiangong.notices.audit.endpoints import router as audit_logs_router
from tiangong.notices.endpoints import router as notifications_router
from tiangong.notices.feedback.endpoints import router as feedback_router
from tiangong.notices.system_logs.endpoints import router as system_logs_router

routers: list[APIRouter] = [
    notifications_router,
    alert_rules_router,
    audit_logs_router,
    system_logs_router,
    feedback_router,
]
