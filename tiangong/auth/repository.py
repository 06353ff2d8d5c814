from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User


async def get_by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def get_by_login(session: AsyncSession, login: str) -> User | None:
    login = login.strip()
    stmt = select(User).where(or_(User.email == login.lower(), User.nickname == login))
    return (await session.execute(stmt)).scalars().first()


async def email_taken(session: AsyncSession, email: str) -> bool:
    stmt = select(User.id).where(User.email == email.lower())
    return (await session.execute(stmt)).first() is not None


async def nickname_taken(session: AsyncSession, nickname: str) -> bool:
    stmt = select(User.id).where(User.nickname == nickname)
    return (await session.execute(stmt)).first() is not None


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(User.id)))).scalar_one())


async def add(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user
