"""Group commit for run checkpoints: one writer per process collects the pending run and node
records of every run and writes them in ONE transaction, while the previous one commits.

Saves do not wait (write-behind): a crash loses only progress not yet committed, which recovery
runs again; what is committed is always a prefix of what was saved, in order, so a node found
`succeeded` in the database is never run again. Several saves of one record before its batch is
written collapse into one statement (the last wins). Whoever needs durability awaits the
future a save returns (the runner does at the end of a run, before a sync response), and
`after_commit` callbacks (bus events) run once everything saved before them is committed, so
a watcher's snapshot never lacks a record whose event it missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, insert, update

from tiangong.db.base import utcnow
from tiangong.db.engine import get_engine
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

logger = logging.getLogger(__name__)

# Past this many pending records a save waits for the batch being written (back-pressure).
MAX_PENDING = 5_000

NodeKey = tuple[str, str]
Callback = Callable[[], Awaitable[None]]

_nodes = cast(Table, WorkflowNodeRun.__table__)
_runs = cast(Table, WorkflowRun.__table__)


class CheckpointWriter:
    def __init__(self) -> None:
        self._run_inserts: dict[str, dict[str, Any]] = {}
        self._extra: list[tuple[str, Executable]] = []
        self._inserts: dict[NodeKey, dict[str, Any]] = {}
        self._updates: dict[NodeKey, dict[str, Any]] = {}
        self._run_values: dict[str, dict[str, Any]] = {}
        self._after: list[tuple[str, Callback]] = []
        # The open batch: one future per run in it (a bad run fails alone, see _flush).
        self._futures: dict[str, asyncio.Future[None]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        # Runs whose last UPDATE may not have applied (cancelled meanwhile): see `diverged`.
        self._watched: set[str] = set()
        self._diverged: set[str] = set()

    def _pending(self, run_id: str) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future = self._futures.get(run_id)
        if future is None:
            future = self._futures[run_id] = loop.create_future()
            # Nobody may await it (write-behind): still mark its error as seen.
            future.add_done_callback(_seen)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_all())
        return future

    def size(self) -> int:
        return len(self._inserts) + len(self._updates) + len(self._run_values)

    def insert_run(
        self, run_id: str, values: dict[str, Any], extra: tuple[Executable, ...] = ()
    ) -> asyncio.Future[None]:
        """A new run's row (and statements that go with it, such as a webhook's
        last_triggered_at), written with the batch instead of a transaction of its own."""
        self._run_inserts[run_id] = values
        self._extra.extend((run_id, stmt) for stmt in extra)
        return self._pending(run_id)

    def watch(self, run_id: str) -> None:
        """Start noting whether the run's UPDATEs all applied (see `diverged`)."""
        self._watched.add(run_id)

    def diverged(self, run_id: str) -> bool:
        """Stop watching; True if an UPDATE of the run's row may have matched nothing (the
        user cancelled it meanwhile), so what was saved is not what the row says."""
        self._watched.discard(run_id)
        if run_id in self._diverged:
            self._diverged.discard(run_id)
            return True
        return False

    def node(
        self, run_id: str, node_id: str, values: dict[str, Any], *, insert: bool
    ) -> asyncio.Future[None]:
        key = (run_id, node_id)
        if insert:
            self._inserts[key] = values
        elif key in self._inserts:  # not written yet: insert the latest values instead
            self._inserts[key] = {**self._inserts[key], **values}
        else:
            self._updates[key] = values
        return self._pending(run_id)

    def run(self, run_id: str, values: dict[str, Any]) -> asyncio.Future[None]:
        """An UPDATE of the run's row, unless the user cancelled it (that stays)."""
        if run_id in self._run_inserts:  # not written yet: insert the latest values instead
            self._run_inserts[run_id].update(values)
        else:
            self._run_values.setdefault(run_id, {}).update(values)
        return self._pending(run_id)

    def after_commit(self, run_id: str, callback: Callback) -> asyncio.Future[None]:
        self._after.append((run_id, callback))
        return self._pending(run_id)

    async def wait_room(self) -> None:
        if self.size() >= MAX_PENDING and self._futures:
            await asyncio.wait(list(self._futures.values()))

    async def published(self) -> None:
        """The after-commit callbacks of every batch written so far have run."""
        if self._publisher is not None and not self._publisher.done():
            await asyncio.wait({self._publisher})

    async def drain(self) -> None:
        """Everything saved so far is written (errors are logged, not raised)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.wait({self._flusher})
        if self._publisher is not None and not self._publisher.done():
            await asyncio.wait({self._publisher})

    async def _flush_all(self) -> None:
        while self._futures:
            # Let saves made in this turn of the loop join the batch.
            await asyncio.sleep(0)
            futures, self._futures = self._futures, {}
            batch = _Batch(self._run_inserts, self._extra, self._inserts, self._updates)
            batch.run_values = self._run_values
            self._run_inserts, self._extra, self._inserts, self._updates = {}, [], {}, {}
            self._run_values = {}
            after, self._after = self._after, []
            failed = await _flush(batch)
            self._diverged.update(batch.unapplied & self._watched)
            for run_id, future in futures.items():
                if run_id in failed:
                    future.set_exception(failed[run_id])
                else:
                    future.set_result(None)
            callbacks = [callback for run_id, callback in after if run_id not in failed]
            if callbacks:
                self._publisher = asyncio.create_task(_run_after(self._publisher, callbacks))


@dataclass
class _Batch:
    run_inserts: dict[str, dict[str, Any]]
    extra: list[tuple[str, Executable]]
    inserts: dict[NodeKey, dict[str, Any]]
    updates: dict[NodeKey, dict[str, Any]]
    run_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Runs named in an UPDATE of workflow_runs that matched fewer rows than it had.
    unapplied: set[str] = field(default_factory=set)

    def run_ids(self) -> set[str]:
        return (
            set(self.run_inserts)
            | {r for r, _ in self.extra}
            | {r for r, _ in self.inserts}
            | {r for r, _ in self.updates}
            | set(self.run_values)
        )

    def only(self, run_id: str) -> _Batch:
        return _Batch(
            {k: v for k, v in self.run_inserts.items() if k == run_id},
            [(r, stmt) for r, stmt in self.extra if r == run_id],
            {k: v for k, v in self.inserts.items() if k[0] == run_id},
            {k: v for k, v in self.updates.items() if k[0] == run_id},
            {k: v for k, v in self.run_values.items() if k == run_id},
        )


async def _flush(batch: _Batch) -> dict[str, Exception]:
    """Write a batch; if it fails, each run's part alone (a run deleted meanwhile must not
    fail the others). Returns the runs whose records could not be written."""
    try:
        await _write(batch)
        return {}
    except Exception as exc:
        run_ids = batch.run_ids()
        if len(run_ids) == 1:
            logger.warning("workflow checkpoint: writing run %s failed", *run_ids, exc_info=True)
            return {run_id: exc for run_id in run_ids}
    failed: dict[str, Exception] = {}
    for run_id in run_ids:
        part = batch.only(run_id)
        try:
            await _write(part)
        except Exception as exc:
            logger.warning("workflow checkpoint: writing run %s failed", run_id, exc_info=True)
            failed[run_id] = exc
        batch.unapplied |= part.unapplied
    return failed


def _seen(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


async def _run_after(previous: asyncio.Task[None] | None, callbacks: list[Callback]) -> None:
    """In order, after the callbacks of earlier batches."""
    if previous is not None:
        await asyncio.wait({previous})
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            logger.warning("workflow checkpoint: an after-commit callback failed", exc_info=True)


Rows = list[tuple[Any, dict[str, Any]]]


def _grouped(rows: dict[Any, dict[str, Any]]) -> dict[tuple[str, ...], Rows]:
    """executemany needs one column set per statement."""
    groups: dict[tuple[str, ...], Rows] = {}
    for key, values in rows.items():
        groups.setdefault(tuple(sorted(values)), []).append((key, values))
    return groups


def _prefixed(values: dict[str, Any]) -> dict[str, Any]:
    # A bindparam may not share a column's name in an UPDATE's SET clause.
    return {f"v_{key}": value for key, value in values.items()}


async def _write(batch: _Batch) -> None:
    now: datetime = utcnow()
    async with get_engine().begin() as conn:
        # Parents first: node rows point at run rows.
        for _, rows in _grouped(batch.run_inserts).items():
            await conn.execute(insert(_runs), [values for _, values in rows])
        for _, stmt in batch.extra:
            await conn.execute(stmt)
        for _, rows in _grouped(batch.inserts).items():
            params = [{"run_id": r, "node_id": n, **values} for (r, n), values in rows]
            await conn.execute(insert(_nodes), params)
        for columns, rows in _grouped(batch.updates).items():
            stmt = (
                update(_nodes)
                .where(_nodes.c.run_id == bindparam("k_run"))
                .where(_nodes.c.node_id == bindparam("k_node"))
                .values({**{c: bindparam(f"v_{c}") for c in columns}, "updated_at": now})
            )
            params = [{"k_run": r, "k_node": n, **_prefixed(values)} for (r, n), values in rows]
            await conn.execute(stmt, params)
        for columns, rows in _grouped(batch.run_values).items():
            stmt = (
                update(_runs)
                .where(_runs.c.id == bindparam("k_id"), _runs.c.status != "cancelled")
                .values({**{c: bindparam(f"v_{c}") for c in columns}, "updated_at": now})
            )
            params = [{"k_id": run_id, **_prefixed(values)} for run_id, values in rows]
            result = await conn.execute(stmt, params)
            # -1: the driver cannot tell (then nobody is told the run is as saved)
            if result.rowcount != len(params):
                batch.unapplied.update(run_id for run_id, _ in rows)


_writer: CheckpointWriter | None = None
_writer_loop: asyncio.AbstractEventLoop | None = None


def writer() -> CheckpointWriter:
    """This process's writer (one per event loop: tests run several loops)."""
    global _writer, _writer_loop
    loop = asyncio.get_running_loop()
    if _writer is None or _writer_loop is not loop:
        _writer, _writer_loop = CheckpointWriter(), loop
    return _writer


async def drain() -> None:
    if _writer is not None and _writer_loop is asyncio.get_running_loop():
        await _writer.drain()
