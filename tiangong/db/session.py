"""Request-scoped sessions. The boundary commits; services only flush."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.db.engine import session_factory


async def get_session() -> AsyncIterator[AsyncSession]:
    async with session_factory()() as session:
        try:
            yield session
            await commit_if_open(session)
        except BaseException:
            await session.rollback()
            raise


# scope="function": commit before the response goes out, so a failed commit is reported, not hidden.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def commit_if_open(session: AsyncSession) -> None:
    """Commit the session's transaction, if one is open. Without one there is nothing to
    commit, and `commit()` would still begin and commit an empty one: a measurable part of a
    chat turn's time to first token, paid by every request at the boundary."""
    if session.in_transaction():
        await session.commit()


def on_commit(session: AsyncSession, fn: Callable[..., Any], *args: Any) -> None:
    """Call `fn(*args)` on this event loop once the session's transaction commits; never if
    it rolls back. A commit on the loop's own thread calls it at once, so whatever it queues
    exists before the request's response goes out (a later loop round could come after).
    Call it inside the transaction it belongs to: the boundary commits only an open one."""
    if not session.in_transaction():
        raise RuntimeError("on_commit needs the session's transaction to be open")
    loop = asyncio.get_running_loop()

    def committed(_: object) -> None:
        try:
            here = asyncio.get_running_loop() is loop
        except RuntimeError:  # a commit in a worker thread
            here = False
        if here:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    event.listen(session.sync_session, "after_commit", committed, once=True)
