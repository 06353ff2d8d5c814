"""Run a short write transaction in as few event-loop round trips as possible.

aiosqlite runs every cursor operation as its own hop to its thread (cursor, execute, fetch,
close, commit), about 25 for a chat turn's three inserts. Each hop yields the event loop and
waits for a thread wake-up, so under load the insert takes several times its CPU cost. On SQLite
the write therefore runs whole in one worker thread on a plain pysqlite engine (same file, same
pragmas); on PostgreSQL and MySQL it runs through the async session (`run_sync`), whose drivers
are natively async. Either way `fn` is ordinary synchronous ORM code, committed after it returns.

On SQLite every such write goes through ONE writer thread: SQLite has a single writer anyway, and
queueing here means the chat path's writes (a turn's messages, the previous turn's answer, the
call log) wait their turn in order instead of meeting in SQLite's busy handler, which sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session

from tiangong.db import sqlite_async
from tiangong.db.engine import get_engine, session_factory, sqlite_pragmas

T = TypeVar("T")

_sync_engine: Engine | None = None
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")


def _sqlite_engine() -> Engine:
    global _sync_engine
    if _sync_engine is None:
        url = get_engine().url.set(drivername="sqlite")
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", sqlite_pragmas)
        _sync_engine = engine
    return _sync_engine


def _in_thread(fn: Callable[[Session], T]) -> T:
    with Session(_sqlite_engine(), expire_on_commit=False) as session:
        result = fn(session)
        session.commit()
        return result


async def write(fn: Callable[[Session], T]) -> T:
    if get_engine().dialect.name == "sqlite":
        # Queued with the async engine's writers (see sqlite_async); released when the thread
        # is done, even if the caller was cancelled meanwhile.
        loop = asyncio.get_running_loop()
        lock = sqlite_async.write_lock()
        await sqlite_async.acquire(lock)
        try:
            job = _writer.submit(_in_thread, fn)
        except BaseException:
            lock.release()
            raise
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(lock.release))
        return await asyncio.wrap_future(job)
    async with session_factory()() as session:
        result = await session.run_sync(fn)
        await session.commit()
        return result


def dispose() -> None:
    global _sync_engine
    if _sync_engine is not None:
        _sync_engine.dispose()
        _sync_engine = None
