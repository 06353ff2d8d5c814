"""Sub-workflow runs: a `sub_workflow` node runs another workflow of the same owner as a child
run (trigger `sub_workflow`, linked to its parent run and node) and waits for its end.

Crash safety: the child carries an idempotency key made of the parent run, the calling node and
its inputs. A parent resumed after a crash runs the node again, finds the same child and takes
its outputs (or waits for it, as recovery resumes it too) instead of starting the work again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.runtime.workflow import NodeError, validate
from tiangong.workflows import repository, runner
from tiangong.workflows.models import WorkflowRun

# How deep sub-workflows nest below a top-level run (a workflow calling itself stops here).
MAX_DEPTH = 5
POLL_S = 0.5
_ENDED = ("succeeded", "failed", "cancelled")
_ACTIVE = ("queued", "running", "paused")


def child_key(parent_run_id: str, node_id: str, workflow_id: str, inputs: Mapping[str, Any]) -> str:
    """Per (parent run, node, call): a loop's inner node calls once per item, under one id."""
    call = json.dumps([workflow_id, inputs], sort_keys=True, default=str)
    digest = hashlib.sha256(call.encode()).hexdigest()[:16]
    return f"sub:{parent_run_id}:{node_id}:{digest}"


async def run_child(
    user: User,
    parent_run_id: str,
    workflow_id: str,
    inputs: Mapping[str, Any],
    parent_node_id: str | None,
) -> dict[str, Any]:
    key = child_key(parent_run_id, parent_node_id, workflow_id, inputs) if parent_node_id else None
    child_id, created = await _attach_or_create(
        user, parent_run_id, workflow_id, dict(inputs), parent_node_id, key
    )
    if created:
        runner.start(child_id)
    try:
        status, outputs, error = await _wait(child_id)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(_cancel_with_parent(parent_run_id, child_id))
        raise
    if status == "succeeded":
        return dict(outputs or {})
    error = error or {}
    code, message = error.get("code", "RUN_FAILED"), error.get("message", status)
    raise NodeError(
        f"sub-workflow run {child_id} {status}: [{code}] {message}",
        code="SUB_WORKFLOW_FAILED",
        details={"run_id": child_id, "error": error},
    )


async def _depth(run_id: str) -> int:
    """How many parents the run has (counted up to MAX_DEPTH + 1)."""
    depth, current = 0, run_id
    async with session_factory()() as session:
        while depth <= MAX_DEPTH:
            stmt = select(WorkflowRun.parent_run_id).where(WorkflowRun.id == current)
            parent = (await session.execute(stmt)).scalar_one_or_none()
            if parent is None:
                break
            depth, current = depth + 1, parent
    return depth


async def _attach_or_create(
    user: User,
    parent_run_id: str,
    workflow_id: str,
    inputs: dict[str, Any],
    parent_node_id: str | None,
    key: str | None,
) -> tuple[str, bool]:
    """The child run's id, and whether it was created now (and so must be started)."""
    if await _depth(parent_run_id) >= MAX_DEPTH:
        raise NodeError(
            f"sub-workflows nest at most {MAX_DEPTH} deep",
            code="SUB_WORKFLOW_DEPTH",
            retryable=False,
        )
    async with session_factory()() as session:
        workflow = await repository.get_own(session, user, workflow_id)
        if workflow is None:
            raise NodeError(
                f"workflow '{workflow_id}' not found", code="WORKFLOW_NOT_FOUND", retryable=False
            )
        if key is not None:
            existing = await repository.run_by_key(session, user, key)
            if existing is not None and existing.status not in ("failed", "cancelled"):
                return existing.id, False
            if existing is not None:
                # A new attempt after a failed child: the old one keeps its record, not the key.
                existing.idempotency_key = None
                await session.flush()
        problems = validate(workflow.definition)
        if problems:
            first = problems[0]
            raise NodeError(
                f"workflow '{workflow_id}' is invalid: {first.message}",
                code="WORKFLOW_INVALID",
                retryable=False,
            )
        child = WorkflowRun(
            workflow_id=workflow.id,
            version=workflow.version,
            owner_id=user.id,
            status="queued",
            inputs=inputs,
            idempotency_key=key,
            trigger="sub_workflow",
            parent_run_id=parent_run_id,
            parent_node_id=parent_node_id,
            heartbeat_at=utcnow(),
        )
        session.add(child)
        try:
            await session.commit()
        except IntegrityError:
            # The same call raced us to the key: attach to its child.
            await session.rollback()
            assert key is not None
            winner = await repository.run_by_key(session, user, key)
            if winner is None:
                raise
            return winner.id, False
        return child.id, True


async def _wait(child_id: str) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
    """Until the child ends. It may run here, in another process, or wait for recovery."""
    while True:
        async with session_factory()() as session:
            stmt = select(WorkflowRun.status, WorkflowRun.outputs, WorkflowRun.error).where(
                WorkflowRun.id == child_id
            )
            row = (await session.execute(stmt)).first()
        if row is None:
            return "failed", None, {"code": "RUN_NOT_FOUND", "message": "the run was deleted"}
        if row.status in _ENDED:
            return row.status, row.outputs, row.error
        task = runner.task_of(child_id)
        if task is not None:
            await asyncio.wait({task}, timeout=5)
        else:
            await asyncio.sleep(POLL_S)


async def _cancel_with_parent(parent_run_id: str, child_id: str) -> None:
    """A user cancelling the parent cancels the child; a process stopping leaves it running."""
    async with session_factory()() as session:
        parent = await session.get(WorkflowRun, parent_run_id)
        if parent is None or parent.status != "cancelled":
            return
        await session.execute(
            update(WorkflowRun)
            .where(WorkflowRun.id == child_id, WorkflowRun.status.in_(_ACTIVE))
            .values(
                status="cancelled",
                finished_at=utcnow(),
                error={"code": "CANCELLED", "message": "its parent run was cancelled"},
            )
        )
        await session.commit()
    runner.cancel(child_id)
