"""MCP server queries, each scoped to the owner."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.mcp.models import McpServer


async def owned(session: AsyncSession, owner_id: str) -> list[McpServer]:
    stmt = select(McpServer).where(McpServer.owner_id == owner_id).order_by(McpServer.name)
    return list((await session.execute(stmt)).scalars())


async def enabled_owned(session: AsyncSession, owner_id: str) -> list[McpServer]:
    stmt = (
        select(McpServer)
        .where(McpServer.owner_id == owner_id, McpServer.enabled.is_(True))
        .order_by(McpServer.name)
    )
    return list((await session.execute(stmt)).scalars())


async def get_owned(session: AsyncSession, owner_id: str, server_id: str) -> McpServer | None:
    stmt = select(McpServer).where(McpServer.owner_id == owner_id, McpServer.id == server_id)
    return (await session.execute(stmt)).scalars().first()


async def name_taken(
    session: AsyncSession, owner_id: str, name: str, exclude: str | None = None
) -> bool:
    stmt = select(McpServer.id).where(McpServer.owner_id == owner_id, McpServer.name == name)
    if exclude:
        stmt = stmt.where(McpServer.id != exclude)
    return (await session.execute(stmt)).first() is not None
