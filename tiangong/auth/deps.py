"""Authentication dependencies: CurrentUser and AdminUser."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth import repository
from tiangong.auth.models import User
from tiangong.cache.local import LocalCache
from tiangong.db.session import SessionDep
from tiangong.errors import Forbidden, Unauthorized
from tiangong.security.tokens import decode_access_token

# Every request authenticates; the row is cached per process for a few seconds. Anything that
# changes a user (role, is_active, deletion) must call `users.changed(session)`.
users: LocalCache[dict[str, Any]] = LocalCache("users", ttl_s=10.0)

_bearer = HTTPBearer(auto_error=False, description="JWT from POST /api/v1/auth/login")


async def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Missing bearer token", code="NOT_AUTHENTICATED")
    user_id = decode_access_token(credentials.credentials)
    row = await users.lookup(user_id, lambda: _row(session, user_id))
    if row is None or not row["is_active"]:
        raise Unauthorized("Invalid token", code="INVALID_TOKEN")
    # A detached copy: endpoints read the caller, they never change it through this object.
    return User(**row)


async def _row(session: AsyncSession, user_id: str) -> dict[str, Any] | None:
    user = await repository.get_by_id(session, user_id)
    if user is None:
        return None
    return {column.key: getattr(user, column.key) for column in User.__table__.columns}


async def get_admin_user(user: Annotated[User, Depends(get_current_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("Administrator role required", code="ADMIN_REQUIRED")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]
