"""Tool usage per tool name, from chats (assistant messages), workflow tool nodes and approval
requests."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.monitoring import tool_repository
from tiangong.monitoring.agent_schemas import ToolUsage, ToolUsageStats
from tiangong.monitoring.agents import check_agent
from tiangong.monitoring.figures import window
from tiangong.monitoring.scope import Scope


@dataclass
class _Tally:
    chat_calls: int = 0
    workflow_calls: int = 0
    failed: int = 0
    duration_ms: float = 0.0
    timed: int = 0
    approvals: dict[str, int] = field(default_factory=dict)

    def usage(self, name: str) -> ToolUsage:
        return ToolUsage(
            name=name,
            calls=self.chat_calls + self.workflow_calls,
            failed=self.failed,
            avg_duration_ms=self.duration_ms / self.timed if self.timed else None,
            chat_calls=self.chat_calls,
            workflow_calls=self.workflow_calls,
            approvals=self.approvals,
        )


def _count_chat_calls(tally: dict[str, _Tally], messages: list[Any]) -> None:
    """Each message holds the records the agent loop stored: {name, error, duration_ms, ...}."""
    for calls in messages:
        for call in calls if isinstance(calls, list) else []:
            name = call.get("name") if isinstance(call, dict) else None
            if not isinstance(name, str) or not name:
                continue
            entry = tally[name]
            entry.chat_calls += 1
            entry.failed += 1 if call.get("error") else 0
            duration = call.get("duration_ms")
            if isinstance(duration, int | float) and not isinstance(duration, bool):
                entry.duration_ms += duration
                entry.timed += 1


async def tool_usage(
    session: AsyncSession, scope: Scope, *, days: int, agent_id: str | None
) -> ToolUsageStats:
    await check_agent(session, scope, agent_id)
    since = window(days).since
    tally: dict[str, _Tally] = defaultdict(_Tally)
    messages = await tool_repository.chat_tool_calls(session, scope, since, agent_id)
    _count_chat_calls(tally, messages)
    # Workflow runs belong to no agent: an agent filter leaves their tool nodes out.
    nodes = [] if agent_id else await tool_repository.workflow_tool_nodes(session, scope, since)
    for name, calls, failed, total_ms, timed in nodes:
        entry = tally[name]
        entry.workflow_calls += calls
        entry.failed += failed
        entry.duration_ms += total_ms
        entry.timed += timed
    for name, status, requests in await tool_repository.approvals(session, scope, since, agent_id):
        tally[name].approvals[status] = requests
    items = sorted(
        (entry.usage(name) for name, entry in tally.items()),
        key=lambda usage: (-usage.calls, usage.name),
    )
    return ToolUsageStats(
        days=days,
        scope=scope.name,
        agent_id=agent_id,
        items=items,
        messages_scanned=len(messages),
        truncated=len(messages) >= tool_repository.MESSAGE_SAMPLE,
    )
