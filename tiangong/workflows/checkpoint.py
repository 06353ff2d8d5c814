"""The engine's CheckpointStore over workflow_runs / workflow_node_runs, written behind in
group commits (see `tiangong.workflows.writer`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import select

from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.runtime.workflow import NodeRecord, RunRecord, RunState
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun
from tiangong.workflows.writer import Callback, writer


def to_dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def to_ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _duration_ms(record: NodeRecord) -> float | None:
    """Set once the node ended (succeeded or failed); a skipped node never started."""
    if record.started_at is None or record.finished_at is None:
        return None
    return round((record.finished_at - record.started_at) * 1000, 3)


class DbCheckpointStore:
    """One run's store. Saves go to the process's group-commit writer and return at once;
    `flush()` waits until all of them are committed (and raises if a batch failed).

    A fresh run (just created, nothing recorded) skips `load`; the store knows which node rows
    exist (loaded or inserted by it), so each node costs one INSERT and then UPDATEs, no SELECT.
    """

    def __init__(self, *, fresh: bool = False) -> None:
        self._fresh = fresh
        self._rows: set[str] = set()
        # Everything saved, merged per row: the rows' values once `flush()` has returned.
        self.run_values: dict[str, Any] = {}
        self.node_values: dict[str, dict[str, Any]] = {}
        self._last: asyncio.Future[None] | None = None
        self._error: BaseException | None = None

    def _track(self, future: asyncio.Future[None]) -> None:
        if future is not self._last:
            self._last = future
            future.add_done_callback(self._note)

    def _note(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None and self._error is None:
            self._error = future.exception()

    async def _saved(self, future: asyncio.Future[None]) -> None:
        if self._error is not None:
            raise self._error
        self._track(future)
        await writer().wait_room()

    async def save_run(self, record: RunRecord) -> None:
        values: dict[str, Any] = {
            "status": record.status,
            "inputs": record.inputs,
            "outputs": record.outputs,
            "error": record.error,
            "started_at": to_dt(record.started_at),
            "finished_at": to_dt(record.finished_at),
            "heartbeat_at": utcnow(),
        }
        self.run_values.update(values)
        await self._saved(writer().run(record.run_id, values))

    async def save_node(self, run_id: str, record: NodeRecord) -> None:
        values: dict[str, Any] = {
            "node_type": record.node_type,
            "status": record.status,
            "attempts": record.attempts,
            "inputs": record.inputs,
            "outputs": record.outputs,
            "branch": record.branch,
            "error": record.error,
            "handling": record.handling,
            "approval_id": record.approval_id,
            "started_at": to_dt(record.started_at),
            "finished_at": to_dt(record.finished_at),
            "duration_ms": _duration_ms(record),
        }
        insert = record.node_id not in self._rows
        if insert:
            self._rows.add(record.node_id)
            # Node runs list in creation order: the batch's clock would tie them.
            first = record.started_at or record.finished_at
            values["created_at"] = to_dt(first) if first is not None else utcnow()
        self.node_values.setdefault(record.node_id, {"node_id": record.node_id}).update(values)
        await self._saved(writer().node(run_id, record.node_id, values, insert=insert))

    def after_commit(self, run_id: str, callback: Callback) -> None:
        """Run `callback` once every save made so far is committed."""
        self._track(writer().after_commit(run_id, callback))

    async def flush(self) -> None:
        if self._last is not None:
            await asyncio.shield(self._last)
        if self._error is not None:
            raise self._error

    async def load(self, run_id: str) -> RunState | None:
        """None for a run never started (queued with no node recorded)."""
        if self._fresh:
            return None
        async with session_factory()() as session:
            run = await session.get(WorkflowRun, run_id)
            if run is None:
                return None
            stmt = select(WorkflowNodeRun).where(WorkflowNodeRun.run_id == run_id)
            nodes = list((await session.execute(stmt)).scalars())
        if run.status == "queued" and not nodes:
            return None
        status = run.status if run.status in ("running", "paused", "succeeded") else "failed"
        record = RunRecord(
            run.id,
            cast(Any, status),
            dict(run.inputs or {}),
            run.outputs,
            run.error,
            to_ts(run.started_at),
            to_ts(run.finished_at),
        )
        records = {
            row.node_id: NodeRecord(
                row.node_id,
                row.node_type,
                cast(Any, row.status),
                row.inputs,
                row.outputs,
                row.branch,
                row.error,
                cast(Any, row.handling),
                row.attempts,
                row.approval_id,
                to_ts(row.started_at),
                to_ts(row.finished_at),
            )
            for row in nodes
        }
        self._rows = set(records)
        return RunState(record, records)
