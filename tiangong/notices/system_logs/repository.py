"""The three sources of the unified system log, each read with the same filters and scope:
audit entries, failed LLM calls and failed workflow runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.llm_logs.models import LLMCallLog
from tiangong.monitoring.figures import as_int, count_if
from tiangong.monitoring.scope import Scope
from tiangong.notices.models import AuditLog
from tiangong.notices.system_logs.schemas import SystemLogEntry
from tiangong.workflows.models import Workflow, WorkflowRun


@dataclass(frozen=True, slots=True)
class LogFilter:
    level: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _span(column: Any, where: LogFilter) -> list[ColumnElement[bool]]:
    found = []
    if where.since is not None:
        found.append(column >= where.since)
    if where.until is not None:
        found.append(column < where.until)
    return found


# Audit entries take their level from the response: 5xx error, 4xx warning, else info.
AUDIT_LEVELS: dict[str, ColumnElement[bool]] = {
    "error": AuditLog.status_code >= 500,
    "warning": and_(AuditLog.status_code >= 400, AuditLog.status_code < 500),
    "info": AuditLog.status_code < 400,
}


def _audit(scope: Scope, where: LogFilter) -> list[ColumnElement[bool]]:
    found = [scope.owns(AuditLog.user_id), *_span(AuditLog.created_at, where)]
    if where.level is not None:
        found.append(AUDIT_LEVELS[where.level])
    return found


def _llm(scope: Scope, where: LogFilter) -> list[ColumnElement[bool]]:
    # Failed calls only, all of level error.
    return [
        scope.owns(LLMCallLog.user_id),
        LLMCallLog.outcome == "error",
        *_span(LLMCallLog.created_at, where),
    ]


def _workflow(scope: Scope, where: LogFilter) -> list[ColumnElement[bool]]:
    # A failed run's last change is its failure, so it is dated by updated_at.
    return [
        scope.owns(WorkflowRun.owner_id),
        WorkflowRun.status == "failed",
        *_span(WorkflowRun.updated_at, where),
    ]


async def _newest(
    session: AsyncSession, id_column: Any, time_column: Any, matching: list[Any], query: Any
) -> tuple[list[Any], int]:
    """How many rows match, and the newest `query.limit` of them."""
    total = await session.scalar(select(func.count(id_column)).where(*matching))
    stmt = query.where(*matching).order_by(time_column.desc(), id_column.desc())
    return list((await session.execute(stmt)).all()), as_int(total)


def _level(status: int) -> str:
    return "error" if status >= 500 else "warning" if status >= 400 else "info"


async def audit(
    session: AsyncSession, scope: Scope, where: LogFilter, limit: int
) -> tuple[list[SystemLogEntry], int]:
    rows, total = await _newest(
        session,
        AuditLog.id,
        AuditLog.created_at,
        _audit(scope, where),
        select(AuditLog).limit(limit),
    )
    entries = [
        SystemLogEntry(
            id=f"audit:{row.id}",
            source="audit",
            level=_level(row.status_code),
            time=row.created_at,
            message=f"{row.method} {row.path} -> {row.status_code}",
            user_id=row.user_id,
            resource_type=row.resource_type,
            resource_id=row.resource_id,
            details={
                "action": row.action,
                "status_code": row.status_code,
                "duration_ms": row.duration_ms,
                "request_id": row.request_id,
            },
        )
        for (row,) in rows
    ]
    return entries, total


async def llm(
    session: AsyncSession, scope: Scope, where: LogFilter, limit: int
) -> tuple[list[SystemLogEntry], int]:
    if where.level not in (None, "error"):
        return [], 0
    rows, total = await _newest(
        session,
        LLMCallLog.id,
        LLMCallLog.created_at,
        _llm(scope, where),
        select(LLMCallLog).limit(limit),
    )
    entries = [
        SystemLogEntry(
            id=f"llm:{row.id}",
            source="llm",
            level="error",
            time=row.created_at,
            message=f"LLM call to {row.model} failed: {row.error_code or 'error'}",
            user_id=row.user_id,
            resource_type="agent" if row.agent_id else None,
            resource_id=row.agent_id,
            details={
                "model": row.model,
                "error_code": row.error_code,
                "latency_ms": row.latency_ms,
                "conversation_id": row.conversation_id,
            },
        )
        for (row,) in rows
    ]
    return entries, total


def _run_error(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "failed")[:500]
    return "failed"


async def workflow(
    session: AsyncSession, scope: Scope, where: LogFilter, limit: int
) -> tuple[list[SystemLogEntry], int]:
    if where.level not in (None, "error"):
        return [], 0
    rows, total = await _newest(
        session,
        WorkflowRun.id,
        WorkflowRun.updated_at,
        _workflow(scope, where),
        select(WorkflowRun, Workflow.name)
        .outerjoin(Workflow, Workflow.id == WorkflowRun.workflow_id)
        .limit(limit),
    )
    entries = [
        SystemLogEntry(
            id=f"workflow:{run.id}",
            source="workflow",
            level="error",
            time=run.updated_at,
            message=f"Workflow run of {name or run.workflow_id} failed: {_run_error(run.error)}",
            user_id=run.owner_id,
            resource_type="workflow_run",
            resource_id=run.id,
            details={
                "workflow_id": run.workflow_id,
                "trigger": run.trigger,
                "error": run.error,
            },
        )
        for run, name in rows
    ]
    return entries, total


async def counts(session: AsyncSession, scope: Scope, since: datetime) -> dict[str, dict[str, int]]:
    """source -> level -> count over [since, now], in one round trip."""
    where = LogFilter(since=since)
    audit_counts = [
        select(count_if(condition)).where(*_audit(scope, where)).scalar_subquery().label(level)
        for level, condition in AUDIT_LEVELS.items()
    ]
    llm_errors = select(func.count(LLMCallLog.id)).where(*_llm(scope, where)).scalar_subquery()
    runs_failed = select(func.count(WorkflowRun.id)).where(*_workflow(scope, where))
    row = (
        await session.execute(
            select(*audit_counts, llm_errors.label("llm"), runs_failed.scalar_subquery())
        )
    ).one()
    *audit_row, llm_n, workflow_n = row
    return {
        "audit": {level: as_int(n) for level, n in zip(AUDIT_LEVELS, audit_row, strict=True)},
        "llm": {"error": as_int(llm_n)},
        "workflow": {"error": as_int(workflow_n)},
    }
