from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.config import get_settings
from tiangong.db.base import utcnow
from tiangong.errors import NotFound, ValidationFailed
from tiangong.execution_logs import call_chain, performance, repository
from tiangong.execution_logs.models import LogRetentionPolicy
from tiangong.execution_logs.schemas import (
    ChainRun,
    DayCount,
    FailingNode,
    LogStats,
    NodeLog,
    RetentionRead,
    RetentionUpdate,
    RunLog,
    RunLogDetail,
    RunLogList,
    RunPerformance,
)
from tiangong.execution_logs.timing import execution_order, node_ms, span_ms
from tiangong.monitoring.figures import percentile
from tiangong.workflows import repository as workflow_repository
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

TOP_FAILING_NODES = 10


def _run_log(run: WorkflowRun, name: str | None) -> RunLog:
    return RunLog(
        id=run.id,
        workflow_id=run.workflow_id,
        workflow_name=name,
        version=run.version,
        status=run.status,
        trigger=run.trigger,
        error=run.error,
        parent_run_id=run.parent_run_id,
        parent_node_id=run.parent_node_id,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=span_ms(run.started_at, run.finished_at),
    )


def _node_log(node: WorkflowNodeRun) -> NodeLog:
    return NodeLog(
        node_id=node.node_id,
        node_type=node.node_type,
        status=node.status,
        attempts=node.attempts,
        inputs=node.inputs,
        outputs=node.outputs,
        branch=node.branch,
        error=node.error,
        handling=node.handling,
        approval_id=node.approval_id,
        logs=list(node.logs or []),
        started_at=node.started_at,
        finished_at=node.finished_at,
        duration_ms=node_ms(node),
    )


async def _own_run(
    session: AsyncSession, user: User, run_id: str
) -> tuple[WorkflowRun, str | None]:
    found = await repository.get_run(session, user, run_id)
    if found is None:
        raise NotFound("Run not found", code="WORKFLOW_RUN_NOT_FOUND")
    return found


async def list_logs(
    session: AsyncSession,
    user: User,
    *,
    workflow_id: str | None,
    status: str | None,
    trigger: str | None,
    since: datetime | None,
    until: datetime | None,
    q: str | None,
    page: int,
    page_size: int,
) -> RunLogList:
    if since is not None and until is not None and since > until:
        raise ValidationFailed("since must not be after until", code="INVALID_RANGE")
    rows, total = await repository.list_runs(
        session,
        user,
        workflow_id=workflow_id,
        status=status,
        trigger=trigger,
        since=since,
        until=until,
        q=q.strip() if q else None,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [_run_log(run, name) for run, name in rows]
    return RunLogList(items=items, total=total, page=page, page_size=page_size)


async def stats(
    session: AsyncSession, user: User, *, days: int, workflow_id: str | None
) -> LogStats:
    today = utcnow().date()
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=utcnow().tzinfo)
    rows = await repository.runs_since(session, user, since, workflow_id)
    by_status: Counter[str] = Counter()
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    durations: list[float] = []
    for status, created_at, started_at, finished_at in rows:
        by_status[status] += 1
        per_day[created_at.date().isoformat()][status] += 1
        duration = span_ms(started_at, finished_at)
        if status in repository.FINISHED and duration is not None:
            durations.append(duration)
    finished = sum(by_status[s] for s in repository.FINISHED)
    failing = await repository.failing_nodes(session, user, since, workflow_id, TOP_FAILING_NODES)
    day_list = []
    for offset in range(days):
        key = (first_day + timedelta(days=offset)).isoformat()
        counts = per_day.get(key, Counter())
        day_list.append(
            DayCount(
                date=key,
                total=sum(counts.values()),
                succeeded=counts["succeeded"],
                failed=counts["failed"],
            )
        )
    return LogStats(
        days=days,
        total=len(rows),
        by_status=dict(by_status),
        success_rate=by_status["succeeded"] / finished if finished else None,
        avg_duration_ms=sum(durations) / len(durations) if durations else None,
        p95_duration_ms=percentile(durations, 0.95),
        per_day=day_list,
        top_failing_nodes=[
            FailingNode(workflow_id=wf, node_id=node, node_type=kind, failures=count)
            for wf, node, kind, count in failing
        ],
    )


async def get_log(session: AsyncSession, user: User, run_id: str) -> RunLogDetail:
    run, name = await _own_run(session, user, run_id)
    run, rows = await workflow_repository.with_run(
        session, run, lambda: repository.node_runs(session, [run.id])
    )
    nodes = execution_order(rows)
    return RunLogDetail(
        **_run_log(run, name).model_dump(),
        inputs=run.inputs or {},
        outputs=run.outputs,
        nodes=[_node_log(node) for node in nodes],
    )


async def get_node_log(session: AsyncSession, user: User, run_id: str, node_id: str) -> NodeLog:
    run, _ = await _own_run(session, user, run_id)
    node = await repository.node_run(session, run.id, node_id)
    if node is None:
        raise NotFound("No log for this node in the run", code="NODE_LOG_NOT_FOUND")
    return _node_log(node)


async def get_performance(
    session: AsyncSession, user: User, run_id: str, *, limit: int
) -> RunPerformance:
    run, _ = await _own_run(session, user, run_id)
    nodes = await repository.node_runs(session, [run.id])
    definition = await repository.definition(session, run)
    return performance.analyse(run, nodes, definition, limit=limit)


async def get_call_chain(session: AsyncSession, user: User, run_id: str, *, depth: int) -> ChainRun:
    run, name = await _own_run(session, user, run_id)
    return await call_chain.build(session, user, run, name, max_depth=depth)


def _retention(row: LogRetentionPolicy | None) -> RetentionRead:
    if row is None:
        return RetentionRead(
            retention_days=get_settings().execution_log_retention_days, is_default=True
        )
    return RetentionRead(retention_days=row.retention_days, is_default=False)


async def get_retention(session: AsyncSession, user: User) -> RetentionRead:
    return _retention(await repository.policy(session, user))


async def set_retention(session: AsyncSession, user: User, data: RetentionUpdate) -> RetentionRead:
    row = await repository.policy(session, user)
    if row is None:
        row = LogRetentionPolicy(owner_id=user.id, retention_days=data.retention_days)
        await repository.add(session, row)
    else:
        row.retention_days = data.retention_days
        await session.flush()
    return _retention(row)
