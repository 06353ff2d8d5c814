"""Every query is scoped to the owner: another user's scene contract is simply not found."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.scene_contracts.models import SceneContract


async def list_own(
    session: AsyncSession,
    user: User,
    *,
    category: str | None,
    search: str | None,
    offset: int,
    limit: int,
) -> tuple[list[SceneContract], int]:
    stmt = select(SceneContract).where(SceneContract.owner_id == user.id)
    if category:
        stmt = stmt.where(SceneContract.category == category)
    if search:
        stmt = stmt.where(
            or_(
                SceneContract.name.icontains(search, autoescape=True),
                SceneContract.goal.icontains(search, autoescape=True),
            )
        )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(SceneContract.created_at.desc(), SceneContract.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_own(session: AsyncSession, user: User, contract_id: str) -> SceneContract | None:
    stmt = select(SceneContract).where(
        SceneContract.id == contract_id, SceneContract.owner_id == user.id
    )
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, row: SceneContract) -> None:
    session.add(row)
    await session.flush()


async def delete(session: AsyncSession, row: SceneContract) -> None:
    await session.delete(row)
    await session.flush()
