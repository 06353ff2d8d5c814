"""The engine's CheckpointStore over workflow_runs / workflow_node_runs, one short
transaction per save."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import select, update

from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.runtime.workflow import NodeRecord, RunRecord, RunState
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

# A run the user cancelled stays cancelled whatever the engine still saves.
_FINAL_BY_USER = "cancelled"


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
        async with session_factory()() as session:
            await session.execute(
                update(WorkflowRun)
                .where(WorkflowRun.id == record.run_id, WorkflowRun.status != _FINAL_BY_USER)
                .values(**values)
            )
            await session.commit()

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
        async with session_factory()() as session:
            stmt = select(WorkflowNodeRun).where(
                WorkflowNodeRun.run_id == run_id, WorkflowNodeRun.node_id == record.node_id
            )
            row = (await session.execute(stmt)).scalars().first()
            if row is None:
                session.add(WorkflowNodeRun(run_id=run_id, node_id=record.node_id, **values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)
            await session.execute(
                update(WorkflowRun).where(WorkflowRun.id == run_id).values(heartbeat_at=utcnow())
            )
            await session.commit()

    async def load(self, run_id: str) -> RunState | None:
        """None for a run never started (queued with no node recorded)."""
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
        return RunState(record, records)
