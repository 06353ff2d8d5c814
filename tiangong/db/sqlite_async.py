"""SQLAlchemy's aiosqlite dialect, with two changes that matter under load.

**One trip per statement.** aiosqlite runs each cursor call (cursor, execute, fetchall, close)
as its own hop to the connection's thread, and every hop costs a thread wake-up and an event
loop wake-up, with the GIL changing hands both ways. `OneHopCursor` executes, fetches every
row and closes in a single function on that thread, so a statement is one hop instead of four.

**Writers queue in-process.** SQLite takes one writer at a time. When two connections of this
process both want to write, the loser waits in SQLite's busy handler, which sleeps (1, 2, 5,
10 ... 100 ms) and polls, so under load those sleeps, not the work, set the pace. Here the
writers of one process queue on an asyncio lock instead: first come, first served, and woken
the moment the holder's transaction ends. pysqlite opens a transaction at a connection's first
INSERT, UPDATE, DELETE or REPLACE (reads run outside one), so that is where the lock is taken;
commit, rollback or close release it. Other processes (a second worker, `tiangong worker`)
still meet in SQLite's busy handler. The lock is per event loop (tests run several), and a wait
longer than SQLite's own busy timeout fails the way SQLite would, so a writer that never
finishes cannot hang the rest for ever.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import await_

DRIVER = "tiangong_aiosqlite"
WAIT_S = 10.0  # as PRAGMA busy_timeout in tiangong.db.engine

# Statements that open a transaction under pysqlite's default (legacy) transaction control.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN", "SAVEPOINT")

_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def write_lock() -> asyncio.Lock:
    """This event loop's SQLite write lock (`one_hop` takes it too)."""
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


async def acquire(lock: asyncio.Lock) -> None:
    # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the lock instead of
    # raising when a cancel arrives just as the lock is granted, and the cancel is lost (a
    # scheduler loop cancelled that way never stopped).
    try:
        async with asyncio.timeout(WAIT_S):
            await lock.acquire()
    except TimeoutError as exc:
        raise sqlite3.OperationalError("database is locked") from exc


def _is_write(statement: str) -> bool:
    return statement.lstrip()[:9].upper().startswith(_WRITES)


Description = tuple[tuple[Any, ...], ...] | None


class OneHopCursor:
    """A DBAPI cursor whose every call is at most one hop to the connection's thread; results
    are fetched whole (no server-side cursors: those keep the stock class)."""

    server_side = False
    __slots__ = ("_adapt_connection", "_rows", "description", "rowcount", "lastrowid", "arraysize")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._rows: collections.deque[Any] = collections.deque()
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def _hop(self, operation: str, parameters: Any, many: bool) -> None:
        aio = self._adapt_connection._connection

        def work() -> tuple[Description, list[Any] | None, int, int | None]:
            cursor = aio._conn.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                else:
                    cursor.execute(operation, () if parameters is None else parameters)
                rows = cursor.fetchall() if cursor.description else None
                return cursor.description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        try:
            result = await_(aio._execute(work))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description, rows, self.rowcount, self.lastrowid = result
        self._rows = collections.deque(rows or ())

    def execute(self, operation: str, parameters: Any = None) -> None:
        self._hop(operation, parameters, many=False)

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        self._hop(operation, seq_of_parameters, many=True)

    async def _async_soft_close(self) -> None:
        return None  # nothing is open on the thread

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None

    def nextset(self) -> None:
        return None

    def __enter__(self) -> OneHopCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        stock = super().connect(*arg, **kw)
        return OneHopConnection(self, stock._connection)


class Dialect(SQLiteDialect_aiosqlite):
    """aiosqlite with one-hop cursors and this process's writers queued on `write_lock()`."""

    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDbapi:
        return OneHopDbapi(__import__("aiosqlite"), __import__("sqlite3"))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # dbapi connection id -> the lock it holds (ids: the adapted connection has __slots__)
        self._holders: dict[int, asyncio.Lock] = {}

    def _before(self, cursor: Any, statement: str) -> None:
        connection = cursor._adapt_connection
        if id(connection) in self._holders or not _is_write(statement):
            return
        lock = write_lock()
        await_(acquire(lock))
        self._holders[id(connection)] = lock

    def _holds(self, connection: Any) -> bool:
        # do_commit/do_rollback get the pool's proxy, do_close the connection itself
        return id(getattr(connection, "dbapi_connection", connection)) in self._holders

    def _release(self, connection: Any) -> None:
        connection = getattr(connection, "dbapi_connection", connection)
        lock = self._holders.pop(id(connection), None)
        if lock is not None and lock.locked():
            lock.release()

    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        self._before(cursor, statement)
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_executemany(
        self, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        self._before(cursor, statement)
        super().do_executemany(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        self._before(cursor, statement)
        super().do_execute_no_params(cursor, statement, context)  # type: ignore[no-untyped-call]

    def do_commit(self, dbapi_connection: Any) -> None:
        if not self._holds(dbapi_connection):
            return  # nothing opened a transaction (see _WRITES): no hop for a no-op
        try:
            super().do_commit(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release(dbapi_connection)

    def do_rollback(self, dbapi_connection: Any) -> None:
        if not self._holds(dbapi_connection):
            return
        try:
            super().do_rollback(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release(dbapi_connection)

    def do_close(self, dbapi_connection: Any) -> None:
        try:
            super().do_close(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release(dbapi_connection)

    def do_terminate(self, dbapi_connection: Any) -> None:
        try:
            super().do_terminate(dbapi_connection)
        finally:
            self._release(dbapi_connection)


registry.register(f"sqlite.{DRIVER}", __name__, "Dialect")
