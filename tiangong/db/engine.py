"""The async engine and session factory, one per process, built from settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tiangong.config import get_settings


class AppSession(AsyncSession):
    """Leaving `async with` closes the session in a task of its own behind a shield, so that a
    cancellation cannot interrupt the connection's release; that costs a task and extra
    event-loop rounds on every request. A session that holds no transaction (never used, or
    already committed) has nothing to release and closing it does no I/O: it closes in place."""

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        if self.in_transaction():
            await super().__aexit__(type_, value, traceback)
        else:
            self.sync_session.close()


_engine: AsyncEngine | None = None
_sessions: async_sessionmaker[AsyncSession] | None = None


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers run while one writer commits; busy_timeout queues writers instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def build_engine(url: str) -> AsyncEngine:
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite+aiosqlite"):
        from tiangong.db import sqlite_async  # registers the dialect

        url = url.replace("sqlite+aiosqlite", f"sqlite+{sqlite_async.DRIVER}", 1)
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 30}}
    elif url.startswith("mysql"):
        kwargs["pool_recycle"] = 3600
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
    return engine


def get_engine() -> AsyncEngine:
    global _engine
    if _engine is None:
        settings = get_settings()
        if settings.db_backend == "sqlite":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        _engine = build_engine(settings.db_url)
    return _engine


def session_factory() -> async_sessionmaker[AsyncSession]:
    global _sessions
    if _sessions is None:
        _sessions = async_sessionmaker(get_engine(), class_=AppSession, expire_on_commit=False)
    return _sessions


async def dispose_engine() -> None:
    global _engine, _sessions
    from tiangong.db import one_hop  # imports this module

    one_hop.dispose()
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _sessions = None
