"""Every SQL statement of the permissions module. Roles are platform-wide (admins write them);
grants are scoped by the service to the resource's owner, an admin, or the grantee."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.permissions.access import MODELS
from tiangong.permissions.models import ResourceGrant, Role, UserRole


async def list_roles(session: AsyncSession) -> list[Role]:
    return list((await session.execute(select(Role).order_by(Role.name))).scalars())


async def count_roles(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(Role.id)))).scalar_one())


async def get_role(session: AsyncSession, role_id: str) -> Role | None:
    return await session.get(Role, role_id)


async def roles_by_id(session: AsyncSession, ids: list[str]) -> list[Role]:
    if not ids:
        return []
    return list((await session.execute(select(Role).where(Role.id.in_(ids)))).scalars())


async def role_name_taken(session: AsyncSession, name: str, except_id: str | None = None) -> bool:
    stmt = select(Role.id).where(Role.name == name)
    if except_id is not None:
        stmt = stmt.where(Role.id != except_id)
    return (await session.execute(stmt)).first() is not None


async def delete_role(session: AsyncSession, role: Role) -> None:
    await session.execute(delete(UserRole).where(UserRole.role_id == role.id))
    await session.delete(role)
    await session.flush()


async def role_ids_of(session: AsyncSession, user_id: str) -> list[str]:
    stmt = select(UserRole.role_id).where(UserRole.user_id == user_id).order_by(UserRole.created_at)
    return list((await session.execute(stmt)).scalars())


async def get_assignment(session: AsyncSession, user_id: str, role_id: str) -> UserRole | None:
    stmt = select(UserRole).where(UserRole.user_id == user_id, UserRole.role_id == role_id)
    return (await session.execute(stmt)).scalars().first()


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(User.email == email.lower())
    return (await session.execute(stmt)).scalars().first()


async def add(session: AsyncSession, row: Role | UserRole | ResourceGrant) -> None:
    session.add(row)
    await session.flush()


async def remove(session: AsyncSession, row: UserRole | ResourceGrant) -> None:
    await session.delete(row)
    await session.flush()


async def get_grant(session: AsyncSession, grant_id: str) -> ResourceGrant | None:
    return await session.get(ResourceGrant, grant_id)


async def find_grant(
    session: AsyncSession, resource_type: str, resource_id: str, user_id: str
) -> ResourceGrant | None:
    stmt = select(ResourceGrant).where(
        ResourceGrant.resource_type == resource_type,
        ResourceGrant.resource_id == resource_id,
        ResourceGrant.user_id == user_id,
    )
    return (await session.execute(stmt)).scalars().first()


async def list_grants(
    session: AsyncSession, resource_type: str, resource_id: str, *, offset: int, limit: int
) -> tuple[list[tuple[ResourceGrant, User]], int]:
    where = and_(
        ResourceGrant.resource_type == resource_type, ResourceGrant.resource_id == resource_id
    )
    total = (await session.execute(select(func.count(ResourceGrant.id)).where(where))).scalar_one()
    rows = await session.execute(
        select(ResourceGrant, User)
        .join(User, User.id == ResourceGrant.user_id)
        .where(where)
        .order_by(ResourceGrant.created_at, ResourceGrant.id)
        .offset(offset)
        .limit(limit)
    )
    return [(grant, user) for grant, user in rows.tuples()], int(total)


def _resource_exists(resource_type: str | None) -> ColumnElement[bool]:
    # Grants of workflows and knowledge bases are not removed with them yet: skip orphans.
    checks = [
        and_(
            ResourceGrant.resource_type == kind,
            exists().where(model.id == ResourceGrant.resource_id),
        )
        for kind, model in MODELS.items()
        if resource_type in (None, kind)
    ]
    return or_(*checks)


async def list_shared_with(
    session: AsyncSession, user_id: str, resource_type: str | None, *, offset: int, limit: int
) -> tuple[list[ResourceGrant], int]:
    stmt = select(ResourceGrant).where(
        ResourceGrant.user_id == user_id, _resource_exists(resource_type)
    )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(
        stmt.order_by(ResourceGrant.created_at.desc(), ResourceGrant.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), int(total)


async def nicknames(session: AsyncSession, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.nickname).where(User.id.in_(user_ids)))
    return dict(rows.tuples().all())


async def delete_grants_for(session: AsyncSession, resource_type: str, resource_id: str) -> None:
    """A deleted resource's grants go with it (in the deleting transaction)."""
    await session.execute(
        delete(ResourceGrant).where(
            ResourceGrant.resource_type == resource_type, ResourceGrant.resource_id == resource_id
        )
    )
