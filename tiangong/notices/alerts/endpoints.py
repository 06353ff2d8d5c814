from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.notices.alerts import service
from tiangong.notices.alerts.metrics import Metric
from tiangong.notices.alerts.schemas import (
    AlertLogList,
    AlertLogRead,
    AlertRuleCreate,
    AlertRuleList,
    AlertRuleRead,
    AlertRuleUpdate,
    AlertState,
    EvaluationResult,
)

router = APIRouter(prefix="/alert-rules", tags=["alert rules"])
Page = Annotated[int, Query(ge=1, le=10_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]


@router.get("", response_model=AlertRuleList)
async def list_alert_rules(
    session: SessionDep,
    user: CurrentUser,
    page: Page = 1,
    page_size: PageSize = 20,
    enabled: bool | None = None,
    metric: Metric | None = None,
) -> AlertRuleList:
    return await service.list_rules(
        session, user, enabled=enabled, metric=metric, page=page, page_size=page_size
    )


@router.post("", response_model=AlertRuleRead, status_code=201)
async def create_alert_rule(
    data: AlertRuleCreate, session: SessionDep, user: CurrentUser
) -> AlertRuleRead:
    return await service.create(session, user, data)


# The fixed /logs paths are declared before /{rule_id}, which would otherwise take "logs".
@router.get("/logs", response_model=AlertLogList)
async def list_alert_logs(
    session: SessionDep,
    user: CurrentUser,
    page: Page = 1,
    page_size: PageSize = 20,
    rule_id: Annotated[str | None, Query(max_length=36)] = None,
    state: AlertState | None = None,
) -> AlertLogList:
    """Alerts the caller's rules fired, newest first."""
    return await service.list_logs(
        session, user, rule_id=rule_id, state=state, page=page, page_size=page_size
    )


@router.post("/logs/{log_id}/acknowledge", response_model=AlertLogRead)
async def acknowledge_alert(log_id: str, session: SessionDep, user: CurrentUser) -> AlertLogRead:
    """firing -> acknowledged; any other state is a 409."""
    return await service.acknowledge(session, user, log_id)


@router.get("/{rule_id}", response_model=AlertRuleRead)
async def get_alert_rule(rule_id: str, session: SessionDep, user: CurrentUser) -> AlertRuleRead:
    return await service.get(session, user, rule_id)


@router.put("/{rule_id}", response_model=AlertRuleRead)
async def update_alert_rule(
    rule_id: str, data: AlertRuleUpdate, session: SessionDep, user: CurrentUser
) -> AlertRuleRead:
    return await service.update(session, user, rule_id, data)


@router.delete("/{rule_id}", status_code=204)
async def delete_alert_rule(rule_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete(session, user, rule_id)
    return Response(status_code=204)


@router.post("/{rule_id}/evaluate", response_model=EvaluationResult)
async def evaluate_alert_rule(
    rule_id: str, session: SessionDep, user: CurrentUser
) -> EvaluationResult:
    """Evaluate now (also a disabled rule): may fire an alert and notify, as the loop does."""
    return await service.evaluate(session, user, rule_id)
