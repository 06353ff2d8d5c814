"""Every query is scoped to the owner: another user's node template is simply not found."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.node_templates.models import NodeTemplate


async def list_own(
    session: AsyncSession,
    user: User,
    *,
    node_type: str | None,
    search: str | None,
    offset: int,
    limit: int,
) -> tuple[list[NodeTemplate], int]:
    stmt = select(NodeTemplate).where(NodeTemplate.owner_id == user.id)
    if node_type:
        stmt = stmt.where(NodeTemplate.node_type == node_type)
    if search:
        stmt = stmt.where(
            or_(
                NodeTemplate.name.icontains(search, autoescape=True),
                NodeTemplate.description.icontains(search, autoescape=True),
            )
        )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(NodeTemplate.created_at.desc(), NodeTemplate.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_own(session: AsyncSession, user: User, template_id: str) -> NodeTemplate | None:
    stmt = select(NodeTemplate).where(
        NodeTemplate.id == template_id, NodeTemplate.owner_id == user.id
    )
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, row: NodeTemplate) -> None:
    session.add(row)
    await session.flush()


async def delete(session: AsyncSession, row: NodeTemplate) -> None:
    await session.delete(row)
    await session.flush()
