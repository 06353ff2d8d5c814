"""Agent monitoring over the LLM call log: totals, the calls themselves, per-agent figures and
the daily trend, for what the scope owns."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.errors import NotFound
from tiangong.monitoring import agent_repository, agent_stats_repository
from tiangong.monitoring.agent_repository import CallFigures, CallFilter
from tiangong.monitoring.agent_schemas import (
    AgentOverview,
    AgentStats,
    AgentStatsList,
    DailyTrend,
    DayTrend,
    LLMCallList,
    LLMCallRead,
    ModelStats,
    Spread,
    Tokens,
)
from tiangong.monitoring.figures import day_key, percentile, ratio, window
from tiangong.monitoring.scope import Scope


def _tokens(figures: CallFigures) -> Tokens:
    return Tokens(
        prompt=figures.prompt,
        completion=figures.completion,
        reasoning=figures.reasoning,
        total=figures.prompt + figures.completion,
    )


def _summary(figures: CallFigures) -> dict[str, Any]:
    """The `CallSummary` fields."""
    return {
        "calls": figures.calls,
        "errors": figures.errors,
        "tokens": _tokens(figures),
        "avg_latency_ms": figures.avg_latency,
    }


def _spread(avg: float | None, values: list[float]) -> Spread:
    return Spread(avg=avg, p50=percentile(values, 0.5), p95=percentile(values, 0.95))


async def check_agent(session: AsyncSession, scope: Scope, agent_id: str | None) -> None:
    """An agent filter must name an agent of the scope; another user's agent is not found."""
    if agent_id is not None and not await agent_repository.owns_agent(session, scope, agent_id):
        raise NotFound("Agent not found", code="AGENT_NOT_FOUND")


async def overview(
    session: AsyncSession, scope: Scope, *, days: int, agent_id: str | None
) -> AgentOverview:
    await check_agent(session, scope, agent_id)
    where = CallFilter(since=window(days).since, agent_id=agent_id)
    figures, active = await agent_repository.totals(session, scope, where)
    timings = await agent_repository.timings(session, scope, where)
    return AgentOverview(
        days=days,
        scope=scope.name,
        agent_id=agent_id,
        calls=figures.calls,
        ok=figures.calls - figures.errors - figures.cancelled,
        errors=figures.errors,
        cancelled=figures.cancelled,
        error_rate=ratio(figures.errors, figures.calls),
        tokens=_tokens(figures),
        latency_ms=_spread(figures.avg_latency, [latency for latency, _ in timings]),
        ttft_ms=_spread(figures.avg_ttft, [ttft for _, ttft in timings if ttft is not None]),
        active_agents=active,
        percentile_sample=len(timings),
    )


async def llm_calls(
    session: AsyncSession,
    scope: Scope,
    *,
    days: int,
    agent_id: str | None,
    model: str | None,
    outcome: str | None,
    page: int,
    page_size: int,
) -> LLMCallList:
    await check_agent(session, scope, agent_id)
    where = CallFilter(window(days).since, agent_id=agent_id, model=model, outcome=outcome)
    rows, total = await agent_repository.page(
        session, scope, where, offset=(page - 1) * page_size, limit=page_size
    )
    items = [
        LLMCallRead.model_validate(call).model_copy(update={"agent_name": name})
        for call, name in rows
    ]
    by_model = [
        ModelStats(model=model, avg_ttft_ms=figures.avg_ttft, **_summary(figures))
        for model, figures in await agent_repository.by_model(session, scope, where)
    ]
    return LLMCallList(items=items, total=total, page=page, page_size=page_size, by_model=by_model)


async def agents_stats(
    session: AsyncSession, scope: Scope, *, days: int, page: int, page_size: int
) -> AgentStatsList:
    since = window(days).since
    rows, total = await agent_stats_repository.agents_page(
        session, scope, CallFilter(since=since), offset=(page - 1) * page_size, limit=page_size
    )
    ids = [agent.id for agent, _ in rows]
    conversations = await agent_stats_repository.conversations(session, scope, ids, since)
    messages = await agent_stats_repository.messages(session, scope, ids, since)
    last_active = await agent_stats_repository.last_active(session, scope, ids)
    items = [
        AgentStats(
            agent_id=agent.id,
            name=agent.name,
            status=agent.status,
            conversations=conversations.get(agent.id, 0),
            messages=messages.get(agent.id, 0),
            last_active_at=last_active.get(agent.id),
            **_summary(figures),
        )
        for agent, figures in rows
    ]
    return AgentStatsList(
        days=days, scope=scope.name, items=items, total=total, page=page, page_size=page_size
    )


async def daily_trend(
    session: AsyncSession, scope: Scope, *, days: int, agent_id: str | None
) -> DailyTrend:
    await check_agent(session, scope, agent_id)
    span = window(days)
    where = CallFilter(since=span.since, agent_id=agent_id)
    found = {
        day_key(day): figures
        for day, figures in await agent_repository.per_day(session, scope, where)
    }
    empty = CallFigures(0, 0, 0, 0, 0, 0, None, None)
    items = [DayTrend(date=day, **_summary(found.get(day, empty))) for day in span.dates]
    return DailyTrend(days=days, scope=scope.name, agent_id=agent_id, items=items)
