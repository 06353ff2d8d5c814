"""/monitoring: read-only figures about the caller's agents, workflows, runs, conversations,
knowledge and tools; administrators pass scope=all for everyone's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tiangong.db.session import SessionDep
from tiangong.monitoring import system
from tiangong.monitoring.schemas import ActivityFeed, ExecutionStats, NodeTypeStats, SystemOverview
from tiangong.monitoring.scope import ScopeDep

router = APIRouter(prefix="/monitoring", tags=["monitoring"])

Days = Annotated[
    int, Query(ge=1, le=365, description="the last `days` UTC calendar days, today included")
]


@router.get("/overview", response_model=SystemOverview)
async def overview(session: SessionDep, scope: ScopeDep, days: Days = 7) -> SystemOverview:
    """Counts of agents, workflows, conversations, knowledge and tools; runs, messages, new
    conversations and LLM calls within the window."""
    return await system.overview(session, scope, days=days)


@router.get("/executions", response_model=ExecutionStats)
async def executions(
    session: SessionDep,
    scope: ScopeDep,
    days: Days = 7,
    workflow_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
) -> ExecutionStats:
    """Workflow runs created in the window: per day and status, by trigger, success rate,
    average and p95 duration."""
    return await system.executions(session, scope, days=days, workflow_id=workflow_id)


@router.get("/node-types", response_model=NodeTypeStats)
async def node_types(session: SessionDep, scope: ScopeDep, days: Days = 7) -> NodeTypeStats:
    """Node runs of the window per node type: count, outcomes and average duration."""
    return await system.node_types(session, scope, days=days)


@router.get("/activities", response_model=ActivityFeed)
async def activities(
    session: SessionDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ActivityFeed:
    """The newest workflow runs, agent changes, conversations and knowledge documents."""
    return await system.activities(session, scope, limit=limit)
