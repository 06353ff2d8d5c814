"""System monitoring: counts, workflow execution statistics, node-type usage and the activity
feed, over what the scope owns."""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.errors import NotFound
from tiangong.execution_logs.repository import FINISHED
from tiangong.execution_logs.timing import span_ms
from tiangong.monitoring import feed_repository, system_repository
from tiangong.monitoring.figures import as_float, day_key, percentile, ratio, window
from tiangong.monitoring.schemas import (
    Activity,
    ActivityFeed,
    AgentCounts,
    CallCounts,
    ConversationCounts,
    DayRuns,
    ExecutionStats,
    KnowledgeCounts,
    NodeTypeStats,
    NodeTypeUsage,
    RunCounts,
    SystemOverview,
    ToolCounts,
)
from tiangong.monitoring.scope import Scope


async def overview(session: AsyncSession, scope: Scope, *, days: int) -> SystemOverview:
    span = window(days)
    n = await system_repository.overview_counts(session, scope, span.since)
    runs: Counter[str] = Counter()
    for _, status, count in await system_repository.runs_per_day(session, scope, span.since):
        runs[status] += count
    return SystemOverview(
        days=days,
        scope=scope.name,
        since=span.since,
        agents=AgentCounts(total=n["agents"], deployed=n["agents_deployed"]),
        workflows=n["workflows"],
        workflow_runs=RunCounts(
            total=runs.total(),
            queued=runs["queued"],
            running=runs["running"],
            paused=runs["paused"],
            succeeded=runs["succeeded"],
            failed=runs["failed"],
            cancelled=runs["cancelled"],
        ),
        conversations=ConversationCounts(
            total=n["conversations"], recent=n["conversations_recent"]
        ),
        messages=n["messages"],
        llm_calls=CallCounts(total=n["llm_calls"], errors=n["llm_errors"]),
        knowledge=KnowledgeCounts(bases=n["knowledge_bases"], documents=n["documents"]),
        tools=ToolCounts(custom=n["tools"], enabled=n["tools_enabled"]),
    )


async def executions(
    session: AsyncSession, scope: Scope, *, days: int, workflow_id: str | None
) -> ExecutionStats:
    if workflow_id is not None and not await system_repository.owns_workflow(
        session, scope, workflow_id
    ):
        raise NotFound("Workflow not found", code="WORKFLOW_NOT_FOUND")
    span = window(days)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for day, status, count in await system_repository.runs_per_day(
        session, scope, span.since, workflow_id
    ):
        per_day[day_key(day)][status] += count
    by_status: Counter[str] = sum(per_day.values(), Counter())
    spans = await system_repository.run_spans(session, scope, span.since, workflow_id)
    durations = [ms for start, end in spans if (ms := span_ms(start, end)) is not None]
    finished = sum(by_status[status] for status in FINISHED)
    return ExecutionStats(
        days=days,
        scope=scope.name,
        workflow_id=workflow_id,
        total=by_status.total(),
        by_status=dict(by_status),
        by_trigger=await system_repository.runs_by_trigger(session, scope, span.since, workflow_id),
        success_rate=ratio(by_status["succeeded"], finished),
        avg_duration_ms=sum(durations) / len(durations) if durations else None,
        p95_duration_ms=percentile(durations, 0.95),
        duration_sample=len(durations),
        per_day=[
            DayRuns(date=day, total=per_day[day].total(), by_status=dict(per_day[day]))
            for day in span.dates
        ],
    )


async def node_types(session: AsyncSession, scope: Scope, *, days: int) -> NodeTypeStats:
    rows = await system_repository.node_types(session, scope, window(days).since)
    return NodeTypeStats(
        days=days,
        scope=scope.name,
        items=[
            NodeTypeUsage(
                node_type=kind,
                count=count,
                succeeded=succeeded,
                failed=failed,
                skipped=skipped,
                avg_duration_ms=as_float(avg),
            )
            for kind, count, succeeded, failed, skipped, avg in rows
        ],
    )


async def activities(session: AsyncSession, scope: Scope, *, limit: int) -> ActivityFeed:
    rows = await feed_repository.recent(session, scope, limit)
    rows.sort(key=lambda row: (row[4], row[0], row[1]), reverse=True)
    items = [
        Activity(type=kind, id=id_, title=title, status=status, at=at)
        for kind, id_, title, status, at in rows[:limit]
    ]
    return ActivityFeed(scope=scope.name, items=items)
