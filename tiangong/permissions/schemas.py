from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from tiangong.permissions.catalog import (
    PERMISSIONS,
    Access,
    Action,
    GrantLevel,
    ResourceType,
)


def _known_code(code: str) -> str:
    if code not in PERMISSIONS:
        raise ValueError(f"unknown permission '{code}' (see GET /permissions/catalog)")
    return code


def _unique(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


PermissionCode = Annotated[str, Field(max_length=64), AfterValidator(_known_code)]
Codes = Annotated[list[PermissionCode], Field(max_length=len(PERMISSIONS)), AfterValidator(_unique)]
# Slug names: no look-alike duplicates differing only in case or spaces.
RoleName = Annotated[
    str, StringConstraints(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_-]*$")
]
Id = Annotated[str, Field(min_length=1, max_length=64)]


class PermissionRead(BaseModel):
    code: str
    resource: str
    action: str
    description: str


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName
    description: str = Field(default="", max_length=500)
    permissions: Codes = Field(default_factory=list)


class RoleUpdate(BaseModel):
    """Partial update: fields left out (or null) keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: RoleName | None = None
    description: str | None = Field(default=None, max_length=500)
    permissions: Codes | None = None


class RoleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    permissions: list[str]
    builtin: bool = False
    # Built-in roles have no row, so no timestamps.
    created_at: datetime | None = None
    updated_at: datetime | None = None


class RoleList(BaseModel):
    items: list[RoleRead]
    total: int


class RoleAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role_id: Id


class UserRoles(BaseModel):
    """A user's roles and the permission codes they add up to."""

    user_id: str
    roles: list[RoleRead]
    permissions: list[str]
    # True when the user has no assigned role and gets the default one.
    default_role: bool


class GrantCreate(BaseModel):
    """Share a resource with one user, named by id or by email."""

    model_config = ConfigDict(extra="forbid")

    resource_type: ResourceType
    resource_id: Id
    user_id: Id | None = None
    email: EmailStr | None = Field(default=None, max_length=255)
    permission: GrantLevel = "view"

    @model_validator(mode="after")
    def _one_user(self) -> GrantCreate:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give exactly one of user_id and email")
        return self


class GrantRead(BaseModel):
    id: str
    resource_type: str
    resource_id: str
    user_id: str
    user_email: str
    user_nickname: str
    permission: str
    granted_by: str | None
    # Whether the resource's own endpoints honour the grant yet (agents do).
    enforced: bool
    created_at: datetime
    updated_at: datetime


class GrantList(BaseModel):
    items: list[GrantRead]
    total: int
    page: int
    page_size: int


class SharedItem(BaseModel):
    grant_id: str
    resource_type: str
    resource_id: str
    name: str
    owner_id: str
    owner_nickname: str
    permission: str
    enforced: bool
    shared_at: datetime


class SharedList(BaseModel):
    items: list[SharedItem]
    total: int
    page: int
    page_size: int


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_type: ResourceType
    resource_id: Id
    action: Action
    # Someone else than the caller: only the resource's owner or an admin may ask.
    user_id: Id | None = None


class CheckResult(BaseModel):
    allowed: bool
    user_id: str
    access: Access | None
    reason: str
    enforced: bool
