"""Roles (built-in and custom), their assignment to users, and effective permissions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import BadRequest, Conflict, Forbidden, NotFound
from tiangong.permissions import repository
from tiangong.permissions.catalog import ADMIN_ROLE, BUILTIN_ROLES, DEFAULT_ROLE, PERMISSIONS
from tiangong.permissions.models import Role, UserRole
from tiangong.permissions.schemas import (
    PermissionRead,
    RoleCreate,
    RoleList,
    RoleRead,
    RoleUpdate,
    UserRoles,
)

# Custom roles are few by nature; the cap keeps the unpaged list bounded.
MAX_CUSTOM_ROLES = 200
ME = "me"


def catalog() -> list[PermissionRead]:
    return [
        PermissionRead(
            code=code,
            resource=code.split(":")[0],
            action=code.split(":")[1],
            description=text,
        )
        for code, text in PERMISSIONS.items()
    ]


def _builtin(name: str) -> RoleRead:
    description, codes = BUILTIN_ROLES[name]
    # A built-in role's id is its name: stable on every installation.
    return RoleRead(
        id=name, name=name, description=description, permissions=list(codes), builtin=True
    )


def _not_found() -> NotFound:
    return NotFound("Role not found", code="ROLE_NOT_FOUND")


async def list_roles(session: AsyncSession) -> RoleList:
    items = [_builtin(name) for name in BUILTIN_ROLES]
    items += [RoleRead.model_validate(row) for row in await repository.list_roles(session)]
    return RoleList(items=items, total=len(items))


async def get(session: AsyncSession, role_id: str) -> RoleRead:
    if role_id in BUILTIN_ROLES:
        return _builtin(role_id)
    row = await repository.get_role(session, role_id)
    if row is None:
        raise _not_found()
    return RoleRead.model_validate(row)


async def _check_name(session: AsyncSession, name: str, except_id: str | None = None) -> None:
    if name in BUILTIN_ROLES or await repository.role_name_taken(session, name, except_id):
        raise Conflict(f"A role named '{name}' already exists", code="ROLE_NAME_TAKEN")


async def _custom(session: AsyncSession, role_id: str) -> Role:
    if role_id in BUILTIN_ROLES:
        raise Forbidden("Built-in roles cannot be changed or deleted", code="ROLE_BUILTIN")
    row = await repository.get_role(session, role_id)
    if row is None:
        raise _not_found()
    return row


async def create(session: AsyncSession, data: RoleCreate) -> RoleRead:
    await _check_name(session, data.name)
    if await repository.count_roles(session) >= MAX_CUSTOM_ROLES:
        raise Conflict(f"At most {MAX_CUSTOM_ROLES} custom roles", code="ROLE_LIMIT_REACHED")
    row = Role(**data.model_dump())
    await repository.add(session, row)
    await session.refresh(row)
    return RoleRead.model_validate(row)


async def update(session: AsyncSession, role_id: str, data: RoleUpdate) -> RoleRead:
    row = await _custom(session, role_id)
    if data.name is not None and data.name != row.name:
        await _check_name(session, data.name, except_id=row.id)
    for key, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(row, key, value)
    await session.flush()
    await session.refresh(row)
    return RoleRead.model_validate(row)


async def delete(session: AsyncSession, role_id: str) -> None:
    """Its assignments go with it; users left with no role get the default one."""
    await repository.delete_role(session, await _custom(session, role_id))


async def _target(session: AsyncSession, caller: User, user_id: str) -> User:
    """`me` or the caller's own id, or (for admins) anyone's; others' ids are not found."""
    if user_id in (ME, caller.id):
        return caller
    target = await repository.get_user(session, user_id) if caller.is_admin else None
    if target is None:
        raise NotFound("User not found", code="USER_NOT_FOUND")
    return target


async def user_roles(session: AsyncSession, caller: User, user_id: str) -> UserRoles:
    user = await _target(session, caller, user_id)
    ids = await repository.role_ids_of(session, user.id)
    custom = {
        row.id: RoleRead.model_validate(row) for row in await repository.roles_by_id(session, ids)
    }
    roles = [
        _builtin(i) if i in BUILTIN_ROLES else custom[i]
        for i in ids
        if i in BUILTIN_ROLES or i in custom
    ]
    # Platform admins are admins by their account, whatever else they were given.
    if user.is_admin and all(role.id != ADMIN_ROLE for role in roles):
        roles.insert(0, _builtin(ADMIN_ROLE))
    default = not roles
    if default:
        roles = [_builtin(DEFAULT_ROLE)]
    codes = {code for role in roles for code in role.permissions}
    return UserRoles(
        user_id=user.id,
        roles=roles,
        permissions=[code for code in PERMISSIONS if code in codes],
        default_role=default,
    )


async def assign(session: AsyncSession, caller: User, user_id: str, role_id: str) -> UserRoles:
    user = await _target(session, caller, user_id)
    if role_id == ADMIN_ROLE:
        raise BadRequest(
            "The admin role comes with an administrator account (tiangong user create --admin) "
            "and cannot be assigned here",
            code="ROLE_NOT_ASSIGNABLE",
        )
    await get(session, role_id)
    if await repository.get_assignment(session, user.id, role_id) is not None:
        raise Conflict("The user already has this role", code="ROLE_ALREADY_ASSIGNED")
    await repository.add(session, UserRole(user_id=user.id, role_id=role_id, assigned_by=caller.id))
    return await user_roles(session, caller, user.id)


async def unassign(session: AsyncSession, caller: User, user_id: str, role_id: str) -> None:
    user = await _target(session, caller, user_id)
    row = await repository.get_assignment(session, user.id, role_id)
    if row is None:
        raise NotFound("The user does not have this role", code="ROLE_ASSIGNMENT_NOT_FOUND")
    await repository.remove(session, row)
