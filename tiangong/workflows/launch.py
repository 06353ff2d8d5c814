"""Starting a run (`execute`): for the API, webhooks, schedules and batches.

Without an idempotency key the new run's row is not written by the request: it joins the
checkpoint writer's next group commit with the run's first records, so starting a run costs
no transaction of its own. An async start still waits for that commit before it answers 202
(the run is durable once its id is out); a sync start answers from what the run saved once
all of it is committed, and reads the rows back only when it cannot (timeout, failure, or a
cancel that may have changed the row meanwhile).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import new_id, utcnow
from tiangong.errors import Conflict, NotFound
from tiangong.runtime.workflow import WorkflowInvalid, validate
from tiangong.workflows import compiled, repository, runner
from tiangong.workflows.details import from_saved, run_detail
from tiangong.workflows.models import Workflow, WorkflowRun
from tiangong.workflows.schemas import ExecuteRequest, RunDetail
from tiangong.workflows.writer import writer


async def execute(
    session: AsyncSession,
    user: User,
    workflow_id: str,
    data: ExecuteRequest,
    *,
    trigger: str = "api",
    workflow: Workflow | None = None,
    extra_writes: Sequence[Executable] = (),
) -> tuple[RunDetail, bool]:
    """Returns the run and whether it was created now (False: an idempotent replay).
    `workflow`: the user's workflow, if the caller loaded it already (a webhook's target).
    `extra_writes`: statements committed with the new run's row."""
    if workflow is None or workflow.id != workflow_id or workflow.owner_id != user.id:
        workflow = await repository.get_own(session, user, workflow_id)
        if workflow is None:
            raise NotFound("Workflow not found", code="WORKFLOW_NOT_FOUND")
    if data.idempotency_key:
        existing = await repository.run_by_key(session, user, data.idempotency_key)
        if existing is not None:
            if existing.workflow_id != workflow.id:
                raise Conflict(
                    "idempotency key already used for another workflow",
                    code="IDEMPOTENCY_KEY_REUSED",
                )
            return await run_detail(session, existing), False
    if compiled.problems(workflow.id, workflow.version, workflow.definition):
        raise WorkflowInvalid(validate(workflow.definition))
    now = utcnow()
    row: dict[str, Any] = {
        "id": new_id(),
        "workflow_id": workflow.id,
        "version": workflow.version,
        "owner_id": user.id,
        "status": "queued",
        "inputs": data.inputs,
        "outputs": None,
        "error": None,
        "idempotency_key": data.idempotency_key,
        "trigger": trigger,
        "parent_run_id": None,
        "pause_requested": False,
        "overrides": None,
        "started_at": None,
        "finished_at": None,
        "heartbeat_at": now,
        "created_at": now,
        "updated_at": now,
    }
    run_id = row["id"]
    if data.idempotency_key:
        # The key's UNIQUE constraint must fail this request, not a later batch.
        await repository.add(session, WorkflowRun(**row))
        for stmt in extra_writes:
            await session.execute(stmt)
        await session.commit()
        saved: asyncio.Future[None] | None = None
    else:
        saved = writer().insert_run(run_id, dict(row), tuple(extra_writes))
        # Ends the read transaction: the request must not hold a pooled connection while the
        # run it waits for needs one to commit.
        await session.commit()
    prepared = runner.Fresh(
        workflow.id, workflow.version, workflow.definition, user, dict(data.inputs)
    )
    task = runner.start(run_id, fresh=prepared)
    if data.mode == "sync":
        await asyncio.wait({task}, timeout=data.timeout_s)
        if prepared.final is not None:
            return from_saved(row, *prepared.final), True
    if saved is not None:
        await asyncio.shield(saved)
    if data.mode == "async":
        return from_saved(row, {}, {}), True
    current = await repository.get_run(session, user, run_id)
    assert current is not None
    return await run_detail(session, current), True
