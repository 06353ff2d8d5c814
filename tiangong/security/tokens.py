"""JWT access tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt

from tiangong.config import get_settings
from tiangong.errors import Unauthorized
from tiangong.security.keys import secret_key

_ALGORITHM = "HS256"


def create_access_token(user_id: str, *, minutes: int | None = None) -> str:
    now = datetime.now(UTC)
    lifetime = minutes if minutes is not None else get_settings().access_token_minutes
    claims = {
        "sub": user_id,
        "iat": now,
        "exp": now + timedelta(minutes=lifetime),
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    return jwt.encode(claims, secret_key(), algorithm=_ALGORITHM)


def decode_access_token(token: str) -> str:
    """Return the user id, or raise Unauthorized with a reason a client can act on."""
    try:
        claims = jwt.decode(
            token,
            secret_key(),
            algorithms=[_ALGORITHM],
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired", code="TOKEN_EXPIRED") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid token", code="INVALID_TOKEN") from exc
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        raise Unauthorized("Invalid token", code="INVALID_TOKEN")
    return str(claims["sub"])
