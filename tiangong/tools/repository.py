"""Custom tool and approval queries, each scoped to the owner."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.tools.models import CustomTool, ToolApproval


async def owned(session: AsyncSession, owner_id: str) -> list[CustomTool]:
    stmt = select(CustomTool).where(CustomTool.owner_id == owner_id).order_by(CustomTool.name)
    return list((await session.execute(stmt)).scalars())


async def get_owned(session: AsyncSession, owner_id: str, tool_id: str) -> CustomTool | None:
    stmt = select(CustomTool).where(CustomTool.owner_id == owner_id, CustomTool.id == tool_id)
    return (await session.execute(stmt)).scalars().first()


async def by_names(session: AsyncSession, owner_id: str, names: Sequence[str]) -> list[CustomTool]:
    if not names:
        return []
    stmt = select(CustomTool).where(CustomTool.owner_id == owner_id, CustomTool.name.in_(names))
    return list((await session.execute(stmt)).scalars())


async def name_taken(
    session: AsyncSession, owner_id: str, name: str, exclude: str | None = None
) -> bool:
    stmt = select(CustomTool.id).where(CustomTool.owner_id == owner_id, CustomTool.name == name)
    if exclude:
        stmt = stmt.where(CustomTool.id != exclude)
    return (await session.execute(stmt)).first() is not None


async def approvals(session: AsyncSession, user_id: str, status: str | None) -> list[ToolApproval]:
    stmt = select(ToolApproval).where(ToolApproval.user_id == user_id)
    if status:
        stmt = stmt.where(ToolApproval.status == status)
    stmt = stmt.order_by(ToolApproval.created_at.desc()).limit(200)
    return list((await session.execute(stmt)).scalars())


async def approval_owned(
    session: AsyncSession, user_id: str, approval_id: str
) -> ToolApproval | None:
    stmt = select(ToolApproval).where(
        ToolApproval.user_id == user_id, ToolApproval.id == approval_id
    )
    return (await session.execute(stmt)).scalars().first()
