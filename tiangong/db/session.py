"""Request-scoped sessions. The boundary commits; services only flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.db.engine import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    async with session_factory()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": commit before the response goes out, so a failed commit is reported, not hidden.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
