from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth import repository, throttle
from tiangong.auth.models import User
from tiangong.auth.schemas import Token, UserCreate
from tiangong.db.base import utcnow
from tiangong.errors import Conflict, Unauthorized
from tiangong.security.passwords import hash_password, verify_password
from tiangong.security.tokens import create_access_token


async def register(session: AsyncSession, data: UserCreate, *, admin: bool = False) -> User:
    email = data.email.lower()
    if await repository.email_taken(session, email):
        raise Conflict("This email is already registered", code="EMAIL_TAKEN")
    if await repository.nickname_taken(session, data.nickname):
        raise Conflict("This nickname is already taken", code="NICKNAME_TAKEN")
    first = await repository.count_users(session) == 0
    user = User(
        email=email,
        nickname=data.nickname,
        password_hash=hash_password(data.password),
        role="admin" if admin or first else "user",
    )
    return await repository.add(session, user)


async def login(session: AsyncSession, username: str, password: str, client_ip: str) -> Token:
    await throttle.check(username, client_ip)
    user = await repository.get_by_login(session, username)
    ok = verify_password(password, user.password_hash if user else None)
    if not ok or user is None:
        await throttle.record_failure(username, client_ip)
        raise Unauthorized("Incorrect username or password", code="INVALID_CREDENTIALS")
    if not user.is_active:
        raise Unauthorized("This account is disabled", code="ACCOUNT_DISABLED")
    await throttle.clear(username)
    user.last_login_at = utcnow()
    return Token(access_token=create_access_token(user.id))
