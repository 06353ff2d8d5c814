"""The SQL behind /monitoring. Every statement filters on the scope's owner column."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent
from tiangong.conversations.models import Conversation, Message
from tiangong.execution_logs.repository import FINISHED
from tiangong.knowledge.models import Document, KnowledgeBase
from tiangong.llm_logs.models import LLMCallLog
from tiangong.monitoring.figures import SAMPLE_ROWS, as_int, count_if
from tiangong.monitoring.scope import Scope
from tiangong.tools.models import CustomTool
from tiangong.workflows.models import Workflow, WorkflowNodeRun, WorkflowRun


def _counts(scope: Scope, since: datetime) -> dict[str, Select[Any]]:
    agents = select(func.count(Agent.id)).where(scope.owns(Agent.owner_id))
    conversations = select(func.count(Conversation.id)).where(scope.owns(Conversation.user_id))
    calls = select(func.count(LLMCallLog.id)).where(
        scope.owns(LLMCallLog.user_id), LLMCallLog.created_at >= since
    )
    tools = select(func.count(CustomTool.id)).where(scope.owns(CustomTool.owner_id))
    return {
        "agents": agents,
        "agents_deployed": agents.where(Agent.status == "deployed"),
        "workflows": select(func.count(Workflow.id)).where(scope.owns(Workflow.owner_id)),
        "conversations": conversations,
        "conversations_recent": conversations.where(Conversation.created_at >= since),
        "messages": select(func.count(Message.id))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(scope.owns(Conversation.user_id), Message.created_at >= since),
        "llm_calls": calls,
        "llm_errors": calls.where(LLMCallLog.outcome == "error"),
        "knowledge_bases": select(func.count(KnowledgeBase.id)).where(
            scope.owns(KnowledgeBase.owner_id)
        ),
        "documents": select(func.count(Document.id))
        .join(KnowledgeBase, KnowledgeBase.id == Document.kb_id)
        .where(scope.owns(KnowledgeBase.owner_id)),
        "tools": tools,
        "tools_enabled": tools.where(CustomTool.enabled.is_(True)),
    }


async def overview_counts(session: AsyncSession, scope: Scope, since: datetime) -> dict[str, int]:
    """Every count in one round trip, as scalar subqueries of one SELECT."""
    counts = _counts(scope, since)
    stmt = select(*(query.scalar_subquery().label(name) for name, query in counts.items()))
    row = (await session.execute(stmt)).one()
    return {name: int(value or 0) for name, value in zip(counts, row, strict=True)}


def _runs(scope: Scope, since: datetime, workflow_id: str | None) -> list[Any]:
    where = [scope.owns(WorkflowRun.owner_id), WorkflowRun.created_at >= since]
    if workflow_id is not None:
        where.append(WorkflowRun.workflow_id == workflow_id)
    return where


async def runs_per_day(
    session: AsyncSession, scope: Scope, since: datetime, workflow_id: str | None = None
) -> list[tuple[Any, str, int]]:
    """(day, status, runs) for the runs created in the window."""
    day = func.date(WorkflowRun.created_at)
    stmt = (
        select(day, WorkflowRun.status, func.count(WorkflowRun.id))
        .where(*_runs(scope, since, workflow_id))
        .group_by(day, WorkflowRun.status)
    )
    return [(d, status, int(n)) for d, status, n in (await session.execute(stmt)).tuples()]


async def runs_by_trigger(
    session: AsyncSession, scope: Scope, since: datetime, workflow_id: str | None
) -> dict[str, int]:
    stmt = (
        select(WorkflowRun.trigger, func.count(WorkflowRun.id))
        .where(*_runs(scope, since, workflow_id))
        .group_by(WorkflowRun.trigger)
    )
    return {trigger: int(n) for trigger, n in (await session.execute(stmt)).tuples()}


async def run_spans(
    session: AsyncSession, scope: Scope, since: datetime, workflow_id: str | None
) -> list[tuple[datetime, datetime]]:
    """(started_at, finished_at) of the newest finished runs of the window, SAMPLE_ROWS at most:
    a duration is a difference of two timestamps, which the databases spell differently."""
    stmt = (
        select(WorkflowRun.started_at, WorkflowRun.finished_at)
        .where(
            *_runs(scope, since, workflow_id),
            WorkflowRun.status.in_(FINISHED),
            WorkflowRun.started_at.is_not(None),
            WorkflowRun.finished_at.is_not(None),
        )
        .order_by(WorkflowRun.created_at.desc())
        .limit(SAMPLE_ROWS)
    )
    rows = (await session.execute(stmt)).tuples()
    return [(start, end) for start, end in rows if start is not None and end is not None]


async def owns_workflow(session: AsyncSession, scope: Scope, workflow_id: str) -> bool:
    stmt = select(Workflow.id).where(Workflow.id == workflow_id, scope.owns(Workflow.owner_id))
    return (await session.execute(stmt)).first() is not None


async def node_types(
    session: AsyncSession, scope: Scope, since: datetime
) -> list[tuple[str, int, int, int, int, Any]]:
    """(node_type, count, succeeded, failed, skipped, avg duration_ms); the node types are the
    registered ones, so the groups are few."""
    count = func.count(WorkflowNodeRun.id)
    status = WorkflowNodeRun.status
    stmt = (
        select(
            WorkflowNodeRun.node_type,
            count,
            count_if(status == "succeeded"),
            count_if(status == "failed"),
            count_if(status == "skipped"),
            func.avg(WorkflowNodeRun.duration_ms),
        )
        .join(WorkflowRun, WorkflowRun.id == WorkflowNodeRun.run_id)
        .where(scope.owns(WorkflowRun.owner_id), WorkflowNodeRun.created_at >= since)
        .group_by(WorkflowNodeRun.node_type)
        .order_by(count.desc(), WorkflowNodeRun.node_type)
    )
    rows = (await session.execute(stmt)).tuples()
    return [
        (kind, as_int(n), as_int(ok), as_int(bad), as_int(skip), avg)
        for kind, n, ok, bad, skip, avg in rows
    ]
