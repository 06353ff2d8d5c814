"""Sharing: the owner of an agent, workflow or knowledge base (or an admin) grants another
user view or edit access. Agents honour grants today; see catalog.ENFORCED."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import BadRequest, Forbidden, NotFound
from tiangong.permissions import access, repository
from tiangong.permissions.catalog import ALLOWED, ENFORCED
from tiangong.permissions.models import ResourceGrant
from tiangong.permissions.schemas import (
    CheckRequest,
    CheckResult,
    GrantCreate,
    GrantList,
    GrantRead,
    SharedItem,
    SharedList,
)


def _read(grant: ResourceGrant, user: User) -> GrantRead:
    return GrantRead(
        id=grant.id,
        resource_type=grant.resource_type,
        resource_id=grant.resource_id,
        user_id=grant.user_id,
        user_email=user.email,
        user_nickname=user.nickname,
        permission=grant.permission,
        granted_by=grant.granted_by,
        enforced=grant.resource_type in ENFORCED,
        created_at=grant.created_at,
        updated_at=grant.updated_at,
    )


async def _managed(
    session: AsyncSession, user: User, resource_type: str, resource_id: str
) -> access.Resource:
    """The resource if the caller may share it: 404 when they cannot see it, 403 when they
    see it through a grant of their own."""
    resource, level = await access.reachable(session, user, resource_type, resource_id)
    if "share" not in ALLOWED[level]:
        raise Forbidden("Only the owner or an admin can manage sharing", code="NOT_RESOURCE_OWNER")
    return resource


async def _grantee(session: AsyncSession, data: GrantCreate) -> User:
    if data.user_id is not None:
        user = await repository.get_user(session, data.user_id)
    else:
        assert data.email is not None  # GrantCreate guarantees one of the two
        user = await repository.get_user_by_email(session, data.email)
    if user is None:
        raise NotFound("User not found", code="USER_NOT_FOUND")
    return user


async def grant(session: AsyncSession, user: User, data: GrantCreate) -> tuple[GrantRead, bool]:
    """Creates the grant, or changes the permission of an existing one; True when created."""
    resource = await _managed(session, user, data.resource_type, data.resource_id)
    grantee = await _grantee(session, data)
    if grantee.id == resource.owner_id:
        raise BadRequest("The owner already has full access", code="GRANT_TO_OWNER")
    row = await repository.find_grant(session, resource.type, resource.id, grantee.id)
    created = row is None
    if row is None:
        row = ResourceGrant(
            resource_type=resource.type,
            resource_id=resource.id,
            user_id=grantee.id,
            permission=data.permission,
            granted_by=user.id,
        )
        await repository.add(session, row)
    else:
        row.permission = data.permission
        row.granted_by = user.id
        await session.flush()
    await session.refresh(row)
    return _read(row, grantee), created


async def list_grants(
    session: AsyncSession,
    user: User,
    resource_type: str,
    resource_id: str,
    *,
    page: int,
    page_size: int,
) -> GrantList:
    resource = await _managed(session, user, resource_type, resource_id)
    rows, total = await repository.list_grants(
        session, resource.type, resource.id, offset=(page - 1) * page_size, limit=page_size
    )
    items = [_read(grant, grantee) for grant, grantee in rows]
    return GrantList(items=items, total=total, page=page, page_size=page_size)


async def revoke(session: AsyncSession, user: User, grant_id: str) -> None:
    """The owner or an admin revokes; the grantee may also give a share up."""
    row = await repository.get_grant(session, grant_id)
    if row is not None and row.user_id != user.id:
        resource = await access.find(session, row.resource_type, row.resource_id)
        if resource is None or (resource.owner_id != user.id and not user.is_admin):
            row = None
    if row is None:
        raise NotFound("Grant not found", code="GRANT_NOT_FOUND")
    await repository.remove(session, row)


async def shared_with_me(
    session: AsyncSession, user: User, resource_type: str | None, *, page: int, page_size: int
) -> SharedList:
    rows, total = await repository.list_shared_with(
        session, user.id, resource_type, offset=(page - 1) * page_size, limit=page_size
    )
    found: dict[tuple[str, str], access.Resource] = {}
    for kind in {row.resource_type for row in rows}:
        ids = [row.resource_id for row in rows if row.resource_type == kind]
        found |= {(kind, k): v for k, v in (await access.find_many(session, kind, ids)).items()}
    owners = await repository.nicknames(session, {r.owner_id for r in found.values()})
    items = []
    for row in rows:
        resource = found.get((row.resource_type, row.resource_id))
        if resource is None:
            continue  # deleted between the two queries
        items.append(
            SharedItem(
                grant_id=row.id,
                resource_type=row.resource_type,
                resource_id=row.resource_id,
                name=resource.name,
                owner_id=resource.owner_id,
                owner_nickname=owners.get(resource.owner_id, ""),
                permission=row.permission,
                enforced=row.resource_type in ENFORCED,
                shared_at=row.created_at,
            )
        )
    return SharedList(items=items, total=total, page=page, page_size=page_size)


async def check(session: AsyncSession, caller: User, data: CheckRequest) -> CheckResult:
    """May the user (the caller by default) do the action on the resource?"""
    if data.user_id is None or data.user_id == caller.id:
        subject = caller
        resource = await access.find(session, data.resource_type, data.resource_id)
        if resource is None:
            raise access.not_found(data.resource_type)
    else:
        resource = await _managed(session, caller, data.resource_type, data.resource_id)
        found = await repository.get_user(session, data.user_id)
        if found is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
        subject = found
    level = await access.access_of(session, subject, resource)
    if level is None:
        # The caller asking about themselves learns nothing they could not learn with a GET.
        if subject is caller:
            raise access.not_found(data.resource_type)
        allowed, reason = False, "no access: not the owner, not an admin, no grant"
    else:
        allowed = data.action in ALLOWED[level]
        source = {"owner": "owner", "admin": "administrator"}.get(level, f"{level} grant")
        reason = (
            f"{data.action} allowed as {source}"
            if allowed
            else f"{data.action} needs the owner or an admin; the user has a {source}"
        )
    return CheckResult(
        allowed=allowed,
        user_id=subject.id,
        access=level,
        reason=reason,
        enforced=resource.type in ENFORCED,
    )
