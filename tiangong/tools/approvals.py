"""Human approval of tool calls. The waiting turn polls the cache (which crosses processes
through Redis) and, less often, the database, which is the record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.cache import get_cache
from tiangong.config import get_settings
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.errors import Conflict, NotFound
from tiangong.runtime.tools import Tool
from tiangong.tools import repository
from tiangong.tools.models import ToolApproval
from tiangong.tools.schemas import ApprovalRead

POLL_S = 0.2
_DB_EVERY = 10
Emit = Callable[[str, dict[str, Any]], None]


def _key(approval_id: str) -> str:
    return f"approval:{approval_id}"


def to_read(row: ToolApproval) -> ApprovalRead:
    return ApprovalRead(
        id=row.id,
        tool_name=row.tool_name,
        arguments=row.arguments,
        status=row.status,
        agent_id=row.agent_id,
        conversation_id=row.conversation_id,
        reason=row.reason,
        created_at=row.created_at,
        decided_at=row.decided_at,
    )


async def _status_in_db(approval_id: str) -> str:
    async with session_factory()() as session:
        row = await session.get(ToolApproval, approval_id)
        return row.status if row else "rejected"


class Approvals:
    """The approver for one turn: records the request, tells the client, waits for a decision."""

    def __init__(
        self, user_id: str, agent_id: str | None, conversation_id: str | None, emit: Emit
    ) -> None:
        self.user_id, self.agent_id, self.conversation_id = user_id, agent_id, conversation_id
        self.emit = emit

    async def __call__(self, tool: Tool, arguments: dict[str, Any]) -> bool:
        async with session_factory()() as session:
            row = ToolApproval(
                user_id=self.user_id,
                agent_id=self.agent_id,
                conversation_id=self.conversation_id,
                tool_name=tool.name,
                arguments=arguments,
            )
            session.add(row)
            await session.commit()
        self.emit(
            "approval_required", {"approval_id": row.id, "tool": tool.name, "arguments": arguments}
        )
        status = await self._wait(row.id)
        self.emit("approval_result", {"approval_id": row.id, "tool": tool.name, "status": status})
        return status == "approved"

    async def _wait(self, approval_id: str) -> str:
        deadline = time.monotonic() + get_settings().tool_approval_timeout_s
        polls = 0
        while time.monotonic() < deadline:
            status = await get_cache().get(_key(approval_id))
            if status is None and polls % _DB_EVERY == _DB_EVERY - 1:
                found = await _status_in_db(approval_id)
                status = None if found == "pending" else found
            if status is not None:
                return status
            polls += 1
            await asyncio.sleep(POLL_S)
        async with session_factory()() as session:
            await session.execute(
                update(ToolApproval)
                .where(ToolApproval.id == approval_id, ToolApproval.status == "pending")
                .values(status="expired", decided_at=utcnow(), reason="no decision in time")
            )
            await session.commit()
        return "expired"


async def list_approvals(
    session: AsyncSession, user: User, status: str | None
) -> list[ApprovalRead]:
    return [to_read(row) for row in await repository.approvals(session, user.id, status)]


async def decide(
    session: AsyncSession, user: User, approval_id: str, approve: bool, reason: str | None
) -> ApprovalRead:
    row = await repository.approval_owned(session, user.id, approval_id)
    if row is None:
        raise NotFound("Approval not found", code="APPROVAL_NOT_FOUND")
    if row.status != "pending":
        raise Conflict(f"This call was already {row.status}", code="APPROVAL_ALREADY_DECIDED")
    row.status = "approved" if approve else "rejected"
    row.reason, row.decided_at = reason, utcnow()
    await session.flush()
    await get_cache().set(_key(row.id), row.status, ttl=3600)
    return to_read(row)
