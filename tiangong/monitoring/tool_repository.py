"""The SQL behind /agent-monitoring/tool-usage. Tool calls are recorded in three places: the
assistant messages of chats (`messages.tool_calls`), tool nodes of workflow runs, and approval
requests (`tool_approvals`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.conversations.models import Conversation, Message
from tiangong.monitoring.figures import as_int, count_if
from tiangong.monitoring.scope import Scope
from tiangong.tools.models import ToolApproval
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

# Chat tool calls are counted in Python from the newest messages that have any, at most this
# many: each message carries its calls' full results, so these rows are heavier than most.
MESSAGE_SAMPLE = 2_000


async def chat_tool_calls(
    session: AsyncSession, scope: Scope, since: datetime, agent_id: str | None
) -> list[Any]:
    """`tool_calls` of the newest MESSAGE_SAMPLE assistant messages of the window with any.
    Counting inside JSON arrays is spelled differently by each database, so the caller does."""
    stmt = (
        select(Message.tool_calls)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            scope.owns(Conversation.user_id),
            Message.role == "assistant",
            Message.created_at >= since,
            Message.tool_calls.is_not(None),
            # A message without tool calls may hold JSON null rather than SQL NULL.
            cast(Message.tool_calls, String).not_in(["null", "[]"]),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(MESSAGE_SAMPLE)
    )
    if agent_id is not None:
        stmt = stmt.where(Conversation.agent_id == agent_id)
    return list((await session.execute(stmt)).scalars())


async def workflow_tool_nodes(
    session: AsyncSession, scope: Scope, since: datetime
) -> list[tuple[str, int, int, float, int]]:
    """(tool, calls, failed, summed duration_ms, nodes with a duration) of the tool nodes of
    runs in the window."""
    nodes = (
        select(
            WorkflowNodeRun.inputs["tool"].as_string().label("tool"),
            WorkflowNodeRun.status,
            WorkflowNodeRun.duration_ms,
        )
        .join(WorkflowRun, WorkflowRun.id == WorkflowNodeRun.run_id)
        .where(
            scope.owns(WorkflowRun.owner_id),
            WorkflowNodeRun.created_at >= since,
            WorkflowNodeRun.node_type == "tool",
            WorkflowNodeRun.status.in_(["succeeded", "failed"]),
        )
        .subquery()
    )
    # Grouped outside: the JSON path is a bound parameter on PostgreSQL, and a GROUP BY on it
    # would not match the selected expression.
    stmt = (
        select(
            nodes.c.tool,
            func.count(),
            count_if(nodes.c.status == "failed"),
            func.coalesce(func.sum(nodes.c.duration_ms), 0),
            func.count(nodes.c.duration_ms),
        )
        .where(nodes.c.tool.is_not(None))
        .group_by(nodes.c.tool)
    )
    rows = (await session.execute(stmt)).tuples()
    return [
        (tool, as_int(n), as_int(bad), float(total_ms), as_int(timed))
        for tool, n, bad, total_ms, timed in rows
    ]


async def approvals(
    session: AsyncSession, scope: Scope, since: datetime, agent_id: str | None
) -> list[tuple[str, str, int]]:
    """(tool, status, requests) of the approval requests made in the window."""
    stmt = (
        select(ToolApproval.tool_name, ToolApproval.status, func.count(ToolApproval.id))
        .where(scope.owns(ToolApproval.user_id), ToolApproval.created_at >= since)
        .group_by(ToolApproval.tool_name, ToolApproval.status)
    )
    if agent_id is not None:
        stmt = stmt.where(ToolApproval.agent_id == agent_id)
    return [(tool, status, as_int(n)) for tool, status, n in (await session.execute(stmt)).tuples()]
