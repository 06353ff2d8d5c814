"""/agent-monitoring: read-only figures from the LLM call log, conversations and tool calls of
the caller's agents; administrators pass scope=all for everyone's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tiangong.db.session import SessionDep
from tiangong.monitoring import agents, tool_usage
from tiangong.monitoring.agent_schemas import (
    AgentOverview,
    AgentStatsList,
    DailyTrend,
    LLMCallList,
    Outcome,
    ToolUsageStats,
)
from tiangong.monitoring.scope import ScopeDep
from tiangong.monitoring.system_endpoints import Days

router = APIRouter(prefix="/agent-monitoring", tags=["agent monitoring"])

AgentId = Annotated[
    str | None, Query(min_length=1, max_length=36, description="only this agent's calls")
]
Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]


@router.get("/overview", response_model=AgentOverview)
async def overview(
    session: SessionDep, scope: ScopeDep, days: Days = 7, agent_id: AgentId = None
) -> AgentOverview:
    """LLM calls of the window: counts by outcome, tokens, latency and time to first token
    (average, p50, p95), and how many agents were active."""
    return await agents.overview(session, scope, days=days, agent_id=agent_id)


@router.get("/llm-calls", response_model=LLMCallList)
async def llm_calls(
    session: SessionDep,
    scope: ScopeDep,
    days: Days = 7,
    agent_id: AgentId = None,
    model: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    outcome: Annotated[Outcome | None, Query()] = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> LLMCallList:
    """Calls newest first, and figures per model over every call the filters match."""
    return await agents.llm_calls(
        session,
        scope,
        days=days,
        agent_id=agent_id,
        model=model,
        outcome=outcome,
        page=page,
        page_size=page_size,
    )


@router.get("/agents-stats", response_model=AgentStatsList)
async def agents_stats(
    session: SessionDep,
    scope: ScopeDep,
    days: Days = 7,
    page: Page = 1,
    page_size: PageSize = 20,
) -> AgentStatsList:
    """Each agent's calls, tokens, errors, latency, conversations and messages in the window,
    busiest first, and when it was last active."""
    return await agents.agents_stats(session, scope, days=days, page=page, page_size=page_size)


@router.get("/tool-usage", response_model=ToolUsageStats)
async def tools(
    session: SessionDep, scope: ScopeDep, days: Days = 7, agent_id: AgentId = None
) -> ToolUsageStats:
    """Tool calls of the window per tool: from chats and workflow tool nodes, with failures,
    average duration and approval requests by status."""
    return await tool_usage.tool_usage(session, scope, days=days, agent_id=agent_id)


@router.get("/daily-trend", response_model=DailyTrend)
async def daily_trend(
    session: SessionDep, scope: ScopeDep, days: Days = 7, agent_id: AgentId = None
) -> DailyTrend:
    """Every day of the window: calls, errors, tokens and average latency."""
    return await agents.daily_trend(session, scope, days=days, agent_id=agent_id)
