"""The SQL behind /agent-monitoring over the LLM call log. A call belongs to the user it was made
for (`llm_call_logs.user_id`); every statement filters on it through the scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent
from tiangong.llm_logs.models import LLMCallLog
from tiangong.monitoring.figures import SAMPLE_ROWS, as_float, as_int, count_if
from tiangong.monitoring.scope import Scope

# The by-model breakdown lists at most this many models (the busiest).
MAX_MODELS = 100


@dataclass(frozen=True, slots=True)
class CallFilter:
    since: datetime
    agent_id: str | None = None
    model: str | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class CallFigures:
    """What `_figures()` aggregates over a group of calls."""

    calls: int
    prompt: int
    completion: int
    reasoning: int
    errors: int
    cancelled: int
    avg_latency: float | None
    avg_ttft: float | None

    @classmethod
    def of(cls, row: Sequence[Any]) -> CallFigures:
        calls, prompt, completion, reasoning, errors, cancelled, latency, ttft = row
        return cls(
            calls=as_int(calls),
            prompt=as_int(prompt),
            completion=as_int(completion),
            reasoning=as_int(reasoning),
            errors=as_int(errors),
            cancelled=as_int(cancelled),
            avg_latency=as_float(latency),
            avg_ttft=as_float(ttft),
        )


def _figures() -> list[ColumnElement[Any]]:
    """Aggregates over calls, in the order of `CallFigures`."""
    return [
        func.count(LLMCallLog.id).label("calls"),
        func.coalesce(func.sum(LLMCallLog.prompt_tokens), 0).label("prompt"),
        func.coalesce(func.sum(LLMCallLog.completion_tokens), 0).label("completion"),
        func.coalesce(func.sum(LLMCallLog.reasoning_tokens), 0).label("reasoning"),
        count_if(LLMCallLog.outcome == "error").label("errors"),
        count_if(LLMCallLog.outcome == "cancelled").label("cancelled"),
        func.avg(LLMCallLog.latency_ms).label("avg_latency"),
        func.avg(LLMCallLog.ttft_ms).label("avg_ttft"),
    ]


FIGURES = [column.name for column in _figures()]


def _calls(scope: Scope, where: CallFilter) -> list[ColumnElement[bool]]:
    found = [scope.owns(LLMCallLog.user_id), LLMCallLog.created_at >= where.since]
    if where.agent_id is not None:
        found.append(LLMCallLog.agent_id == where.agent_id)
    if where.model is not None:
        found.append(LLMCallLog.model == where.model)
    if where.outcome is not None:
        found.append(LLMCallLog.outcome == where.outcome)
    return found


async def owns_agent(session: AsyncSession, scope: Scope, agent_id: str) -> bool:
    stmt = select(Agent.id).where(Agent.id == agent_id, scope.owns(Agent.owner_id))
    return (await session.execute(stmt)).first() is not None


async def totals(session: AsyncSession, scope: Scope, where: CallFilter) -> tuple[CallFigures, int]:
    """The figures over every matching call, and how many distinct agents made them."""
    agents = func.count(func.distinct(LLMCallLog.agent_id))
    stmt = select(*_figures(), agents).where(*_calls(scope, where))
    *figures, active = (await session.execute(stmt)).one()
    return CallFigures.of(figures), as_int(active)


async def timings(
    session: AsyncSession, scope: Scope, where: CallFilter
) -> list[tuple[float, float | None]]:
    """(latency_ms, ttft_ms) of the newest SAMPLE_ROWS matching calls, for percentiles."""
    stmt = (
        select(LLMCallLog.latency_ms, LLMCallLog.ttft_ms)
        .where(*_calls(scope, where))
        .order_by(LLMCallLog.created_at.desc())
        .limit(SAMPLE_ROWS)
    )
    return [(latency, ttft) for latency, ttft in (await session.execute(stmt)).tuples()]


async def page(
    session: AsyncSession, scope: Scope, where: CallFilter, *, offset: int, limit: int
) -> tuple[list[tuple[LLMCallLog, str | None]], int]:
    matching = _calls(scope, where)
    total = await session.scalar(select(func.count(LLMCallLog.id)).where(*matching))
    stmt = (
        select(LLMCallLog, Agent.name)
        .outerjoin(Agent, Agent.id == LLMCallLog.agent_id)
        .where(*matching)
        .order_by(LLMCallLog.created_at.desc(), LLMCallLog.id.desc())
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.execute(stmt)).tuples()
    return [(call, name) for call, name in rows], as_int(total)


async def by_model(
    session: AsyncSession, scope: Scope, where: CallFilter
) -> list[tuple[str, CallFigures]]:
    calls = func.count(LLMCallLog.id)
    stmt = (
        select(LLMCallLog.model, *_figures())
        .where(*_calls(scope, where))
        .group_by(LLMCallLog.model)
        .order_by(calls.desc(), LLMCallLog.model)
        .limit(MAX_MODELS)
    )
    return [(model, CallFigures.of(rest)) for model, *rest in await session.execute(stmt)]


async def per_day(
    session: AsyncSession, scope: Scope, where: CallFilter
) -> list[tuple[Any, CallFigures]]:
    day = func.date(LLMCallLog.created_at)
    stmt = select(day, *_figures()).where(*_calls(scope, where)).group_by(day)
    return [(d, CallFigures.of(rest)) for d, *rest in await session.execute(stmt)]


def per_agent(scope: Scope, where: CallFilter) -> Select[Any]:
    """The figures grouped by agent, to join onto the agents (`agent_id` plus FIGURES)."""
    return (
        select(LLMCallLog.agent_id, *_figures())
        .where(*_calls(scope, where), LLMCallLog.agent_id.is_not(None))
        .group_by(LLMCallLog.agent_id)
    )
