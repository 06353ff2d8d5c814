"""The SQLite dialect (tiangong.db.sqlite_async): one hop per statement, writers queued in
process. SQLite only; the other databases use their own async drivers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import OperationalError

from tests import backends
from tiangong.db import one_hop, sqlite_async
from tiangong.db.engine import get_engine, session_factory
from tiangong.workflows.models import Workflow

pytestmark = pytest.mark.skipif(backends.BACKEND != "sqlite", reason="SQLite's own dialect")


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every function aiosqlite runs on a connection's thread."""
    seen: list[str] = []
    real = aiosqlite.Connection._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    yield seen


async def _user_id(client: Any) -> str:
    from tests.conftest import register

    await register(client, "dialect@example.com", "dialect")
    async with session_factory()() as session:
        row = await session.execute(text("SELECT id FROM users"))
        return str(row.scalar_one())


def _workflow(owner_id: str, name: str) -> dict[str, Any]:
    return {"owner_id": owner_id, "name": name, "definition": {}, "version": 1}


async def test_a_statement_is_one_hop_and_a_read_only_commit_is_none(
    client: Any, hops: list[str]
) -> None:
    owner = await _user_id(client)
    async with get_engine().connect() as conn:
        hops.clear()
        rows = (await conn.execute(select(text("1 AS one")))).all()
        assert rows == [(1,)]
        assert len(hops) == 1
        hops.clear()
        await conn.commit()  # nothing was written: nothing to send
        assert hops == []
    async with get_engine().begin() as conn:
        hops.clear()
        result = await conn.execute(insert(Workflow), [_workflow(owner, f"w{i}") for i in range(3)])
        assert result.rowcount == 3
        assert len(hops) == 1  # executemany: one hop for every row
        result = await conn.execute(
            update(Workflow).where(Workflow.owner_id == owner).values(description="d")
        )
        assert result.rowcount == 3
    async with session_factory()() as session:
        names = (await session.execute(select(Workflow.name).order_by(Workflow.name))).scalars()
        assert list(names) == ["w0", "w1", "w2"]


async def test_errors_keep_their_dbapi_types(client: Any) -> None:
    async with get_engine().connect() as conn:
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM no_such_table"))


async def test_writers_of_one_process_queue_instead_of_meeting_in_the_busy_handler(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await _user_id(client)
    # With SQLite's busy handler in charge, 30 writers that each hold the lock across an
    # await would sleep and poll; queued, each waits exactly for the one before it.
    order: list[int] = []

    async def writer(i: int) -> None:
        async with get_engine().begin() as conn:
            await conn.execute(insert(Workflow), [_workflow(owner, f"q{i}")])
            order.append(i)
            await asyncio.sleep(0.002)  # other writers get to run and must queue

    started = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(30)))
    elapsed = time.perf_counter() - started
    assert sorted(order) == list(range(30))
    assert elapsed < 2.0, elapsed
    # one_hop's writer thread queues on the same lock: no "database is locked" either.
    await asyncio.gather(
        writer(100),
        one_hop.write(lambda s: s.execute(insert(Workflow), [_workflow(owner, "t")])),
        writer(101),
    )
    async with session_factory()() as session:
        count = len((await session.execute(select(Workflow.id))).all())
    assert count == 33


async def test_a_writer_that_never_finishes_fails_the_next_one_like_sqlite_would(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await _user_id(client)
    monkeypatch.setattr(sqlite_async, "WAIT_S", 0.3)
    holder = asyncio.Event()
    done = asyncio.Event()

    async def stuck() -> None:
        async with get_engine().begin() as conn:
            await conn.execute(insert(Workflow), [_workflow(owner, "held")])
            holder.set()
            await done.wait()

    task = asyncio.create_task(stuck())
    await holder.wait()
    with pytest.raises(OperationalError, match="database is locked"):
        async with get_engine().begin() as conn:
            await conn.execute(insert(Workflow), [_workflow(owner, "blocked")])
    done.set()
    await task
    # The lock is free again once the holder's transaction ended.
    async with get_engine().begin() as conn:
        await conn.execute(insert(Workflow), [_workflow(owner, "after")])


async def test_one_hop_writes_inline_and_waits_off_the_loop_for_another_process(
    client: Any,
) -> None:
    """Chat writes run on the event loop (no thread hops) with SQLite's busy timeout at zero; a
    lock held by another process (here a plain sqlite3 connection) sends the write to the
    writer thread, so the event loop never sleeps in SQLite's busy handler."""
    import sqlite3

    owner = await _user_id(client)
    await one_hop.write(lambda s: s.execute(insert(Workflow), [_workflow(owner, "inline")]))
    other = sqlite3.connect(str(get_engine().url.database), timeout=0)
    other.execute("BEGIN IMMEDIATE")
    pending = asyncio.create_task(
        one_hop.write(lambda s: s.execute(insert(Workflow), [_workflow(owner, "waited")]))
    )
    started = time.perf_counter()
    await asyncio.sleep(0.2)
    # The loop kept running (blocked, it would sleep in the busy handler for seconds).
    assert time.perf_counter() - started < 1.5
    assert not pending.done()  # waiting for the other process
    other.rollback()
    other.close()
    await asyncio.wait_for(pending, 10)
    async with session_factory()() as session:
        names = set((await session.execute(select(Workflow.name))).scalars())
    assert {"inline", "waited"} <= names


async def test_a_cancel_that_meets_the_lock_being_granted_is_not_lost() -> None:
    # Python 3.11's wait_for returned the lock here and dropped the cancel; a scheduler loop
    # stopped that way kept running.
    lock = asyncio.Lock()
    await lock.acquire()
    task = asyncio.create_task(sqlite_async.acquire(lock))
    await asyncio.sleep(0)
    lock.release()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not lock.locked()
