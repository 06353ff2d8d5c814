"""Every query here is scoped: users see their own configs and shared ones; admins see all."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.model_configs.models import ModelConfig


def _visible(user: User) -> Select[ModelConfig]:
    stmt = select(ModelConfig)
    if not user.is_admin:
        stmt = stmt.where(or_(ModelConfig.owner_id == user.id, ModelConfig.shared.is_(True)))
    return stmt


async def list_visible(
    session: AsyncSession, user: User, *, offset: int, limit: int
) -> tuple[list[ModelConfig], int]:
    stmt = _visible(user)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(ModelConfig.created_at, ModelConfig.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def get_visible(session: AsyncSession, user: User, config_id: str) -> ModelConfig | None:
    stmt = _visible(user).where(ModelConfig.id == config_id)
    return (await session.execute(stmt)).scalars().first()


async def find_by_ref(session: AsyncSession, user: User, ref: str) -> ModelConfig | None:
    """A name, alias or id; the caller's own configs win over shared ones."""
    stmt = (
        select(ModelConfig)
        .where(or_(ModelConfig.owner_id == user.id, ModelConfig.shared.is_(True)))
        .where(or_(ModelConfig.id == ref, ModelConfig.name == ref, ModelConfig.alias == ref))
        .order_by((ModelConfig.owner_id == user.id).desc(), ModelConfig.created_at)
    )
    return (await session.execute(stmt)).scalars().first()


async def find_default(session: AsyncSession, user: User) -> ModelConfig | None:
    stmt = (
        select(ModelConfig)
        .where(or_(ModelConfig.owner_id == user.id, ModelConfig.shared.is_(True)))
        .where(ModelConfig.is_default.is_(True))
        .order_by((ModelConfig.owner_id == user.id).desc(), ModelConfig.created_at)
    )
    return (await session.execute(stmt)).scalars().first()


async def name_or_alias_taken(
    session: AsyncSession,
    owner_id: str,
    *,
    name: str | None,
    alias: str | None,
    exclude: str | None,
) -> str | None:
    """Which of name/alias is already used by another config of this owner."""
    for field, value in (("name", name), ("alias", alias)):
        if value is None:
            continue
        column = ModelConfig.name if field == "name" else ModelConfig.alias
        stmt = select(ModelConfig.id).where(ModelConfig.owner_id == owner_id, column == value)
        if exclude:
            stmt = stmt.where(ModelConfig.id != exclude)
        if (await session.execute(stmt)).first() is not None:
            return field
    return None


async def clear_default(session: AsyncSession, owner_id: str) -> None:
    await session.execute(
        update(ModelConfig).where(ModelConfig.owner_id == owner_id).values(is_default=False)
    )


async def add(session: AsyncSession, config: ModelConfig) -> ModelConfig:
    session.add(config)
    await session.flush()
    return config


async def delete(session: AsyncSession, config: ModelConfig) -> None:
    await session.delete(config)
    await session.flush()
