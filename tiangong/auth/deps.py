"""Authentication dependencies: CurrentUser and AdminUser."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tiangong.auth import repository
from tiangong.auth.models import User
from tiangong.db.session import SessionDep
from tiangong.errors import Forbidden, Unauthorized
from tiangong.security.tokens import decode_access_token

_bearer = HTTPBearer(auto_error=False, description="JWT from POST /api/v1/auth/login")


async def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Missing bearer token", code="NOT_AUTHENTICATED")
    user_id = decode_access_token(credentials.credentials)
    user = await repository.get_by_id(session, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Invalid token", code="INVALID_TOKEN")
    return user


async def get_admin_user(user: Annotated[User, Depends(get_current_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("Administrator role required", code="ADMIN_REQUIRED")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]
