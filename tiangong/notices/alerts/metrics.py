"""The figures a rule can watch, computed over the owner's own rows with the monitoring
module's aggregates."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.monitoring import agent_repository, system_repository
from tiangong.monitoring.agent_repository import CallFilter
from tiangong.monitoring.figures import percentile
from tiangong.monitoring.scope import Scope

Metric = Literal[
    "workflow_failure_rate",
    "workflow_failures",
    "llm_error_rate",
    "llm_latency_p95_ms",
    "llm_calls",
    "llm_tokens",
]
# Rates are percentages (0-100), so a threshold reads like the dashboard does.
RATE_METRICS = frozenset({"workflow_failure_rate", "llm_error_rate"})


async def _workflow_runs(session: AsyncSession, scope: Scope, since: datetime) -> tuple[int, int]:
    """(failed, finished) runs created since `since`; cancelled runs count as neither."""
    failed = finished = 0
    for _day, status, runs in await system_repository.runs_per_day(session, scope, since):
        if status in ("succeeded", "failed"):
            finished += runs
        if status == "failed":
            failed += runs
    return failed, finished


async def measure(
    session: AsyncSession, metric: str, owner_id: str, since: datetime
) -> float | None:
    """The metric's value over [since, now]; None when a rate or percentile has no rows."""
    scope = Scope(owner_id)
    if metric in ("workflow_failure_rate", "workflow_failures"):
        failed, finished = await _workflow_runs(session, scope, since)
        if metric == "workflow_failures":
            return float(failed)
        return 100.0 * failed / finished if finished else None
    where = CallFilter(since=since)
    if metric == "llm_latency_p95_ms":
        timings = await agent_repository.timings(session, scope, where)
        return percentile([latency for latency, _ in timings], 0.95)
    figures, _ = await agent_repository.totals(session, scope, where)
    if metric == "llm_calls":
        return float(figures.calls)
    if metric == "llm_tokens":
        return float(figures.prompt + figures.completion)
    assert metric == "llm_error_rate", metric
    return 100.0 * figures.errors / figures.calls if figures.calls else None
