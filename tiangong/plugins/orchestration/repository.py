"""Every query is scoped to the owner: another user's template is simply not found."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.plugins.models import OrchestrationTemplate


async def list_own(
    session: AsyncSession,
    owner_id: str,
    *,
    mode: str | None,
    search: str | None,
    offset: int,
    limit: int,
) -> tuple[list[OrchestrationTemplate], int]:
    stmt = select(OrchestrationTemplate).where(OrchestrationTemplate.owner_id == owner_id)
    if mode:
        stmt = stmt.where(OrchestrationTemplate.mode == mode)
    if search:
        stmt = stmt.where(
            or_(
                OrchestrationTemplate.name.icontains(search, autoescape=True),
                OrchestrationTemplate.description.icontains(search, autoescape=True),
            )
        )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    order = (OrchestrationTemplate.created_at.desc(), OrchestrationTemplate.id)
    rows = await session.execute(stmt.order_by(*order).offset(offset).limit(limit))
    return list(rows.scalars()), int(total)


async def get_own(
    session: AsyncSession, owner_id: str, template_id: str
) -> OrchestrationTemplate | None:
    stmt = select(OrchestrationTemplate).where(
        OrchestrationTemplate.id == template_id, OrchestrationTemplate.owner_id == owner_id
    )
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, row: OrchestrationTemplate) -> None:
    session.add(row)
    await session.flush()


async def delete(session: AsyncSession, row: OrchestrationTemplate) -> None:
    await session.delete(row)
    await session.flush()
