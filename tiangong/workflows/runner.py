"""Runs execute in detached tasks (like chat turns): the request that started one may leave.

Each run keeps `heartbeat_at` fresh while its task lives; `recover()` (at startup) picks up runs
left `running` with a stale heartbeat and resumes them from their node records, so a node that
succeeded is never run again, or fails them after `MAX_RECOVERIES` tries.

Every engine event is published on `workflow-run:{run_id}` (see `tiangong.bus`), so a watcher
in any process sees the run live. A pause request reaches a local run at once
(`request_pause`) and a run in another process at its next heartbeat (`pause_requested`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update

from tiangong.auth.models import User
from tiangong.bus import publish
from tiangong.config import get_settings
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.errors import AppError
from tiangong.runtime.workflow import ApprovalDecision, WorkflowEngine, WorkflowEvent
from tiangong.workflows import compiled, services
from tiangong.workflows.checkpoint import DbCheckpointStore
from tiangong.workflows.models import WorkflowRun, WorkflowVersion
from tiangong.workflows.writer import drain, writer

logger = logging.getLogger(__name__)

MAX_RECOVERIES = 3

_running: dict[str, asyncio.Task[None]] = {}
# Runs of this process asked to pause: the engine checks before launching each node.
_pausing: set[str] = set()


def channel(run_id: str) -> str:
    return f"workflow-run:{run_id}"


async def announce(run_id: str, payload: dict[str, Any]) -> None:
    """Publish to the run's watchers; a bus failure never fails the run."""
    try:
        await publish(channel(run_id), {"run_id": run_id, **payload})
    except Exception:
        logger.warning("workflow run %s: publishing failed", run_id, exc_info=True)


def request_pause(run_id: str) -> bool:
    """Pause a run this process executes; False if it runs elsewhere (or not at all)."""
    if run_id not in _running:
        return False
    _pausing.add(run_id)
    return True


def task_of(run_id: str) -> asyncio.Task[None] | None:
    return _running.get(run_id)


@dataclass
class Fresh:
    """What `execute()` already holds for a run it just created: no need to read it back.
    Once the run has ended and everything it saved is committed, `final` holds what it saved
    (the run row's values, each node row's values), unless the row may have changed
    meanwhile; the caller can answer from it without reading the rows back."""

    workflow_id: str
    version: int
    definition: dict[str, Any]
    user: User
    inputs: dict[str, Any]
    final: tuple[dict[str, Any], dict[str, dict[str, Any]]] | None = None


def start(
    run_id: str,
    decisions: dict[str, ApprovalDecision] | None = None,
    *,
    fresh: Fresh | None = None,
) -> asyncio.Task[None]:
    task = asyncio.get_running_loop().create_task(_execute(run_id, decisions or {}, fresh))
    _running[run_id] = task
    _pausing.discard(run_id)
    task.add_done_callback(lambda _: _forget(run_id, task))
    return task


def _forget(run_id: str, task: asyncio.Task[None]) -> None:
    if _running.get(run_id) is task:
        del _running[run_id]
        _pausing.discard(run_id)


def cancel(run_id: str) -> bool:
    task = _running.get(run_id)
    if task is None:
        return False
    task.cancel()
    return True


async def _set(run_id: str, **values: Any) -> None:
    """Through the checkpoint writer, so it lands after the run's earlier saves."""
    await writer().run(run_id, values)


async def _heartbeat(run_id: str) -> None:
    while True:
        await asyncio.sleep(get_settings().workflow_heartbeat_s)
        try:
            await _set(run_id, heartbeat_at=utcnow())
            # A pause asked through another process shows up here.
            async with session_factory()() as session:
                pause = await session.scalar(
                    select(WorkflowRun.pause_requested).where(WorkflowRun.id == run_id)
                )
            if pause:
                _pausing.add(run_id)
        except Exception:  # a missed beat is not fatal
            logger.warning("workflow run %s: heartbeat failed", run_id, exc_info=True)


async def _load(run_id: str) -> tuple[dict[str, Any], User, dict[str, Any], dict[str, Any]] | None:
    """The run's definition, owner, inputs and overrides; None if it is not to run."""
    async with session_factory()() as session:
        run = await session.get(WorkflowRun, run_id)
        if run is None or run.status == "cancelled":
            return None
        version = (
            (
                await session.execute(
                    select(WorkflowVersion).where(
                        WorkflowVersion.workflow_id == run.workflow_id,
                        WorkflowVersion.version == run.version,
                    )
                )
            )
            .scalars()
            .first()
        )
        user = await session.get(User, run.owner_id)
        if run.pause_requested:
            _pausing.add(run_id)
    if version is None or user is None:
        raise _Gone
    definition = version.snapshot.get("definition") or {}
    return definition, user, dict(run.inputs or {}), dict(run.overrides or {})


class _Gone(Exception):
    pass


async def _execute(
    run_id: str, decisions: dict[str, ApprovalDecision], fresh: Fresh | None
) -> None:
    beat = asyncio.create_task(_heartbeat(run_id))
    if fresh is not None:
        writer().watch(run_id)
    try:
        if fresh is not None:
            overrides: dict[str, Any] = {}
            definition, user, inputs = fresh.definition, fresh.user, fresh.inputs
            compiled_engine = compiled.engine(fresh.workflow_id, fresh.version, definition)
        else:
            try:
                loaded = await _load(run_id)
            except _Gone:
                await _fail(run_id, _gone())
                return
            if loaded is None:
                return
            definition, user, inputs, overrides = loaded
            compiled_engine = WorkflowEngine(definition)
        store = DbCheckpointStore(fresh=fresh is not None)
        engine = compiled_engine.bind(services.build(user, run_id), store)
        state = await store.load(run_id)

        def should_pause() -> bool:
            return run_id in _pausing

        if state is None:
            events = engine.run(inputs, run_id, should_pause=should_pause, overrides=overrides)
        else:
            events = engine.resume(
                run_id, state, decisions=decisions, should_pause=should_pause, overrides=overrides
            )
        async for event in events:
            # Published once the records behind it are committed (watchers read a snapshot).
            store.after_commit(run_id, functools.partial(_publish, event))
        # The run's final state is durable, and its events are out, before the task ends: a
        # sync caller's answer is never ahead of what watchers have been sent.
        await store.flush()
        await writer().published()
        if fresh is not None and not writer().diverged(run_id):
            fresh.final = (store.run_values, store.node_values)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(_cancelled(run_id))
        raise
    except Exception as exc:
        if isinstance(exc, AppError):
            error = {"code": exc.code, "message": exc.message}
        else:
            logger.exception("workflow run %s crashed", run_id)
            error = {"code": "RUN_FAILED", "message": f"{type(exc).__name__}: {exc}"}
        await _fail(run_id, error)
    finally:
        beat.cancel()
        if fresh is not None:
            writer().diverged(run_id)  # stops watching


async def _publish(event: WorkflowEvent) -> None:
    await announce(event.run_id, {"type": event.type, **event.to_dict()})


async def _fail(run_id: str, error: dict[str, Any]) -> None:
    """The run failed outside the engine (no run_failed event of its own)."""
    payload = {"type": "run_failed", "error": error, "node_id": None, "at": time.time()}
    try:
        done = writer().run(run_id, {"status": "failed", "finished_at": utcnow(), "error": error})
        writer().after_commit(run_id, functools.partial(announce, run_id, payload))
        await asyncio.shield(done)
    except Exception:
        logger.warning("workflow run %s: recording the failure failed", run_id, exc_info=True)


def _gone() -> dict[str, str]:
    return {"code": "WORKFLOW_VERSION_NOT_FOUND", "message": "the workflow version is gone"}


async def _cancelled(run_id: str) -> None:
    """A cancelled task: the user cancelled (row already says so) or the process is stopping
    (the run stays `running`, and recovery resumes it)."""
    return None


async def recover(
    *, stale_after_s: float | None = None, max_recoveries: int = MAX_RECOVERIES
) -> list[str]:
    """Resume runs left `running` (or `queued`) whose heartbeat is stale; returns their ids."""
    if stale_after_s is None:
        stale_after_s = get_settings().workflow_stale_after_s
    cutoff = utcnow() - timedelta(seconds=stale_after_s)
    resumed: list[str] = []
    async with session_factory()() as session:
        rows = (
            await session.execute(
                select(WorkflowRun.id, WorkflowRun.recoveries).where(
                    WorkflowRun.status.in_(("running", "queued")),
                    or_(WorkflowRun.heartbeat_at.is_(None), WorkflowRun.heartbeat_at < cutoff),
                )
            )
        ).all()
    for run_id, recoveries in rows:
        if run_id in _running:
            continue
        async with session_factory()() as session:
            # Claim it: only one worker wins the compare-and-set on `recoveries`.
            values: dict[str, Any] = {"recoveries": recoveries + 1, "heartbeat_at": utcnow()}
            if recoveries >= max_recoveries:
                values.update(
                    status="failed",
                    finished_at=utcnow(),
                    error={
                        "code": "RUN_ABANDONED",
                        "message": f"the run's worker went away {recoveries + 1} times",
                    },
                )
            claimed = await session.execute(
                update(WorkflowRun)
                .where(
                    WorkflowRun.id == run_id,
                    WorkflowRun.recoveries == recoveries,
                    WorkflowRun.status.in_(("running", "queued")),
                )
                .values(**values)
            )
            await session.commit()
        if getattr(claimed, "rowcount", 0) == 1 and recoveries < max_recoveries:
            start(run_id)
            resumed.append(run_id)
    return resumed


_recovery: asyncio.Task[None] | None = None


async def _recover_forever() -> None:
    while True:
        try:
            await recover()
        except Exception:
            logger.warning("workflow recovery failed", exc_info=True)
        await asyncio.sleep(get_settings().workflow_stale_after_s)


async def start_recovery() -> None:
    """App startup: resume what a previous process left, then keep watching."""
    global _recovery
    _recovery = asyncio.create_task(_recover_forever())


async def stop_recovery(grace_s: float = 5.0) -> None:
    """App shutdown: stop watching; give runs a moment, then cancel (recovery resumes them)."""
    global _recovery
    if _recovery is not None:
        _recovery.cancel()
        _recovery = None
    tasks = set(_running.values())
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
    # What the runs saved is committed before the connections close.
    await drain()
