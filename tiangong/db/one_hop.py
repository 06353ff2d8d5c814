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
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tiangong.db import sqlite_async
from tiangong.db.engine import get_engine, session_factory, sqlite_pragmas

T = TypeVar("T")

_sync_engine: Engine | None = None
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")


def _pysqlite(timeout: float, *on_connect: Callable[[Any, Any], None]) -> Engine:
    """A plain pysqlite engine on the app's database file, with its pragmas."""
    url = get_engine().url.set(drivername="sqlite")
    engine = create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False})
    for listener in (sqlite_pragmas, *on_connect):
        event.listen(engine, "connect", listener)
    return engine


def _sqlite_engine() -> Engine:
    global _sync_engine
    if _sync_engine is None:
        _sync_engine = _pysqlite(30)
    return _sync_engine


_inline_engine: Engine | None = None
_inline_commits = 0
CHECKPOINT_EVERY = 500


def _no_waiting(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # Never sleep on the event loop: a lock held by another process fails at once (see write).
    cursor.execute("PRAGMA busy_timeout=0")
    # Checkpoints (which fsync) run on the writer thread instead (see _inline).
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _inline_sqlite_engine() -> Engine:
    global _inline_engine
    if _inline_engine is None:
        _inline_engine = _pysqlite(0, _no_waiting)
    return _inline_engine


def _inline(fn: Callable[[Session], T]) -> T:
    global _inline_commits
    with Session(_inline_sqlite_engine(), expire_on_commit=False) as session:
        result = fn(session)
        session.commit()
    _inline_commits += 1
    if _inline_commits % CHECKPOINT_EVERY == 0:
        _writer.submit(_checkpoint)
    return result


def _checkpoint() -> None:
    with _sqlite_engine().connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def _locked(exc: OperationalError) -> bool:
    return "locked" in str(exc.orig) or "busy" in str(exc.orig)


def _in_thread(fn: Callable[[Session], T]) -> T:
    with Session(_sqlite_engine(), expire_on_commit=False) as session:
        result = fn(session)
        session.commit()
        return result


async def write(fn: Callable[[Session], T]) -> T:
    if get_engine().dialect.name == "sqlite":
        # Queued with the async engine's writers (see sqlite_async).
        loop = asyncio.get_running_loop()
        lock = sqlite_async.write_lock()
        await sqlite_async.acquire(lock)
        try:
            # On the event loop: a short transaction costs less than two thread hops and the
            # GIL changing hands, and the lock above means no writer of ours is in the way.
            result = _inline(fn)
        except OperationalError as exc:
            if not _locked(exc):
                lock.release()
                raise
        except BaseException:
            lock.release()
            raise
        else:
            lock.release()
            return result
        # Another process holds SQLite's lock: wait for it on the writer thread (the lock is
        # released when the thread is done, even if the caller was cancelled meanwhile).
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
    global _sync_engine, _inline_engine
    for engine in (_sync_engine, _inline_engine):
        if engine is not None:
            engine.dispose()
    _sync_engine = _inline_engine = None
