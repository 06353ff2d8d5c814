"""JWT access tokens."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt

from tiangong.config import get_settings
from tiangong.errors import Unauthorized
from tiangong.security.keys import secret_key

_ALGORITHM = "HS256"

# token -> (user id, expiry as a Unix time). Every request presents its token, usually one seen
# before, and checking the signature costs more than the rest of authentication. Only tokens
# that passed the full check are kept, and their expiry is still checked on every use.
_verified: dict[str, tuple[str, float]] = {}
MAX_VERIFIED = 4_096


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
    known = _verified.get(token)
    if known is not None and time.time() < known[1]:
        return known[0]
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
    if len(_verified) >= MAX_VERIFIED:
        _verified.clear()
    _verified[token] = (str(claims["sub"]), float(claims["exp"]))
    return str(claims["sub"])
