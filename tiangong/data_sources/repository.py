"""Every query is scoped to the owner: another user's data source or upload is not found."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.data_sources.models import DataSource, Upload


async def list_own(
    session: AsyncSession,
    user: User,
    *,
    type_: str | None,
    search: str | None,
    offset: int,
    limit: int,
) -> tuple[list[DataSource], int]:
    stmt = select(DataSource).where(DataSource.owner_id == user.id)
    if type_:
        stmt = stmt.where(DataSource.type == type_)
    if search:
        stmt = stmt.where(
            or_(
                DataSource.name.icontains(search, autoescape=True),
                DataSource.description.icontains(search, autoescape=True),
            )
        )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(DataSource.created_at.desc(), DataSource.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_own(session: AsyncSession, user: User, source_id: str) -> DataSource | None:
    stmt = select(DataSource).where(DataSource.id == source_id, DataSource.owner_id == user.id)
    return (await session.execute(stmt)).scalars().first()


async def name_taken(
    session: AsyncSession, user: User, name: str, except_id: str | None = None
) -> bool:
    stmt = select(DataSource.id).where(DataSource.owner_id == user.id, DataSource.name == name)
    if except_id is not None:
        stmt = stmt.where(DataSource.id != except_id)
    return (await session.execute(stmt.limit(1))).first() is not None


async def get_upload(session: AsyncSession, user: User, upload_id: str) -> Upload | None:
    stmt = select(Upload).where(Upload.id == upload_id, Upload.owner_id == user.id)
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, row: DataSource | Upload) -> None:
    session.add(row)
    await session.flush()


async def delete(session: AsyncSession, row: DataSource) -> None:
    await session.delete(row)
    await session.flush()
