"""The /permissions API: roles, the permission catalogue, role assignments, and sharing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import AdminUser, CurrentUser
from tiangong.db.session import SessionDep
from tiangong.permissions import grants, roles
from tiangong.permissions.catalog import ResourceType
from tiangong.permissions.schemas import (
    CheckRequest,
    CheckResult,
    GrantCreate,
    GrantList,
    GrantRead,
    PermissionRead,
    RoleAssign,
    RoleCreate,
    RoleList,
    RoleRead,
    RoleUpdate,
    SharedList,
    UserRoles,
)

router = APIRouter(prefix="/permissions", tags=["permissions"])

Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]


@router.get("/catalog", response_model=list[PermissionRead])
async def permission_catalog(user: CurrentUser) -> list[PermissionRead]:
    """Every permission code a role can hold."""
    return roles.catalog()


@router.get("/roles", response_model=RoleList)
async def list_roles(session: SessionDep, user: CurrentUser) -> RoleList:
    """The built-in roles (admin, editor, viewer), then custom roles by name."""
    return await roles.list_roles(session)


@router.post("/roles", response_model=RoleRead, status_code=201)
async def create_role(data: RoleCreate, session: SessionDep, admin: AdminUser) -> RoleRead:
    return await roles.create(session, data)


@router.get("/roles/{role_id}", response_model=RoleRead)
async def get_role(role_id: str, session: SessionDep, user: CurrentUser) -> RoleRead:
    return await roles.get(session, role_id)


@router.put("/roles/{role_id}", response_model=RoleRead)
async def update_role(
    role_id: str, data: RoleUpdate, session: SessionDep, admin: AdminUser
) -> RoleRead:
    """Custom roles only; built-in roles are 403 ROLE_BUILTIN."""
    return await roles.update(session, role_id, data)


@router.delete("/roles/{role_id}", status_code=204)
async def delete_role(role_id: str, session: SessionDep, admin: AdminUser) -> Response:
    """Removes the role from every user who had it."""
    await roles.delete(session, role_id)
    return Response(status_code=204)


@router.get("/users/{user_id}/roles", response_model=UserRoles)
async def get_user_roles(user_id: str, session: SessionDep, user: CurrentUser) -> UserRoles:
    """A user's roles and effective permission codes. `me` is the caller; admins may read
    anyone's, other users only their own."""
    return await roles.user_roles(session, user, user_id)


@router.post("/users/{user_id}/roles", response_model=UserRoles, status_code=201)
async def assign_role(
    user_id: str, data: RoleAssign, session: SessionDep, admin: AdminUser
) -> UserRoles:
    return await roles.assign(session, admin, user_id, data.role_id)


@router.delete("/users/{user_id}/roles/{role_id}", status_code=204)
async def unassign_role(
    user_id: str, role_id: str, session: SessionDep, admin: AdminUser
) -> Response:
    await roles.unassign(session, admin, user_id, role_id)
    return Response(status_code=204)


@router.post("/grants", response_model=GrantRead, status_code=201)
async def create_grant(
    data: GrantCreate, session: SessionDep, user: CurrentUser, response: Response
) -> GrantRead:
    """Share a resource you own (or any, as an admin). Granting again changes the permission
    (200)."""
    found, created = await grants.grant(session, user, data)
    if not created:
        response.status_code = 200
    return found


@router.get("/grants", response_model=GrantList)
async def list_grants(
    session: SessionDep,
    user: CurrentUser,
    resource_type: ResourceType,
    resource_id: Annotated[str, Query(min_length=1, max_length=64)],
    page: Page = 1,
    page_size: PageSize = 20,
) -> GrantList:
    """Who a resource is shared with; for its owner and admins."""
    return await grants.list_grants(
        session, user, resource_type, resource_id, page=page, page_size=page_size
    )


@router.delete("/grants/{grant_id}", status_code=204)
async def delete_grant(grant_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """The owner or an admin revokes a grant; the grantee may give it up."""
    await grants.revoke(session, user, grant_id)
    return Response(status_code=204)


@router.get("/shared-with-me", response_model=SharedList)
async def shared_with_me(
    session: SessionDep,
    user: CurrentUser,
    resource_type: ResourceType | None = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> SharedList:
    return await grants.shared_with_me(session, user, resource_type, page=page, page_size=page_size)


@router.post("/check", response_model=CheckResult)
async def check_permission(
    data: CheckRequest, session: SessionDep, user: CurrentUser
) -> CheckResult:
    """May a user do an action on a resource? Asking about someone else needs ownership."""
    return await grants.check(session, user, data)
