from __future__ import annotations

import asyncio
import copy
import json
import time
from collections import deque
from typing import Any

from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.errors import BadRequest, Conflict, NotFound, ValidationFailed
from tiangong.permissions import repository as grants_repository
from tiangong.runtime.workflow import ApprovalDecision, node_class, validate
from tiangong.schedules import repository as schedules_repository
from tiangong.webhooks import repository as webhooks_repository
from tiangong.workflows import repository, runner
from tiangong.workflows.details import run_detail
from tiangong.workflows.launch import execute as execute  # callers use service.execute
from tiangong.workflows.models import Workflow, WorkflowNodeRun, WorkflowRun, WorkflowVersion
from tiangong.workflows.schemas import (
    RerunRequest,
    ResumeRequest,
    RunDetail,
    RunList,
    RunRead,
    ValidateResult,
    WorkflowCreate,
    WorkflowExport,
    WorkflowList,
    WorkflowRead,
    WorkflowUpdate,
    WorkflowVersionRead,
)

EXPORT_FORMAT = "tiangong.workflow"
EXPORT_FORMAT_VERSION = 1
_ACTIVE = ("queued", "running", "paused")


def _problems(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [problem.to_dict() for problem in validate(definition)]


def check(definition: dict[str, Any]) -> ValidateResult:
    problems = _problems(definition)
    return ValidateResult(valid=not problems, problems=problems)


def _snapshot(workflow: Workflow) -> dict[str, Any]:
    return {
        "name": workflow.name,
        "description": workflow.description,
        "definition": copy.deepcopy(workflow.definition),
    }


async def _own(session: AsyncSession, user: User, workflow_id: str) -> Workflow:
    workflow = await repository.get_own(session, user, workflow_id)
    if workflow is None:
        raise NotFound("Workflow not found", code="WORKFLOW_NOT_FOUND")
    return workflow


async def _save_version(session: AsyncSession, user: User, workflow: Workflow) -> None:
    row = WorkflowVersion(
        workflow_id=workflow.id,
        version=workflow.version,
        snapshot=_snapshot(workflow),
        created_by=user.id,
    )
    await repository.add(session, row)


async def list_workflows(
    session: AsyncSession, user: User, *, page: int, page_size: int, search: str | None
) -> WorkflowList:
    rows, total = await repository.list_own(
        session, user, search=search, offset=(page - 1) * page_size, limit=page_size
    )
    items = [WorkflowRead.model_validate(row) for row in rows]
    return WorkflowList(items=items, total=total, page=page, page_size=page_size)


async def create(session: AsyncSession, user: User, data: WorkflowCreate) -> WorkflowRead:
    workflow = Workflow(owner_id=user.id, version=1, **data.model_dump())
    await repository.add(session, workflow)
    await _save_version(session, user, workflow)
    await session.refresh(workflow)
    return WorkflowRead.model_validate(workflow)


async def get(session: AsyncSession, user: User, workflow_id: str) -> WorkflowRead:
    return WorkflowRead.model_validate(await _own(session, user, workflow_id))


async def update_workflow(
    session: AsyncSession, user: User, workflow_id: str, data: WorkflowUpdate
) -> WorkflowRead:
    """Every save is a new version with its snapshot."""
    workflow = await _own(session, user, workflow_id)
    for key, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(workflow, key, value)
    workflow.version += 1
    await session.flush()
    await _save_version(session, user, workflow)
    await session.refresh(workflow)
    return WorkflowRead.model_validate(workflow)


async def delete(session: AsyncSession, user: User, workflow_id: str) -> None:
    workflow = await _own(session, user, workflow_id)
    # Its triggers go with it, in the same transaction.
    await schedules_repository.delete_for_target(session, "workflow", workflow.id)
    await webhooks_repository.delete_for_workflow(session, workflow.id)
    await grants_repository.delete_grants_for(session, "workflow", workflow.id)
    await repository.delete_workflow(session, workflow)


async def list_versions(
    session: AsyncSession, user: User, workflow_id: str
) -> list[WorkflowVersionRead]:
    workflow = await _own(session, user, workflow_id)
    rows = await repository.list_versions(session, workflow.id)
    return [WorkflowVersionRead.model_validate(row) for row in rows]


async def _version(
    session: AsyncSession, user: User, workflow_id: str, version: int
) -> tuple[Workflow, WorkflowVersion]:
    workflow = await _own(session, user, workflow_id)
    row = await repository.get_version(session, workflow.id, version)
    if row is None:
        raise NotFound("Version not found", code="WORKFLOW_VERSION_NOT_FOUND")
    return workflow, row


async def get_version(
    session: AsyncSession, user: User, workflow_id: str, version: int
) -> WorkflowVersionRead:
    _, row = await _version(session, user, workflow_id, version)
    return WorkflowVersionRead.model_validate(row)


async def rollback(
    session: AsyncSession, user: User, workflow_id: str, version: int
) -> WorkflowRead:
    """A new version whose content equals version `version`."""
    workflow, row = await _version(session, user, workflow_id, version)
    snapshot = copy.deepcopy(row.snapshot)
    data = WorkflowUpdate(
        name=snapshot["name"],
        description=snapshot["description"],
        definition=snapshot["definition"],
    )
    return await update_workflow(session, user, workflow.id, data)


async def export(session: AsyncSession, user: User, workflow_id: str) -> WorkflowExport:
    workflow = await _own(session, user, workflow_id)
    return WorkflowExport(
        format=EXPORT_FORMAT, format_version=EXPORT_FORMAT_VERSION, workflow=_snapshot(workflow)
    )


async def import_workflow(session: AsyncSession, user: User, raw: bytes) -> WorkflowRead:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"not valid JSON: {exc}", code="INVALID_JSON") from exc
    if not isinstance(body, dict) or body.get("format") != EXPORT_FORMAT:
        raise BadRequest(f"not a {EXPORT_FORMAT} document", code="UNSUPPORTED_FORMAT")
    if body.get("format_version") != EXPORT_FORMAT_VERSION:
        raise BadRequest(
            f"unsupported format_version {body.get('format_version')!r}",
            code="UNSUPPORTED_FORMAT_VERSION",
        )
    workflow = body.get("workflow")
    try:
        data = WorkflowCreate.model_validate(workflow)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise ValidationFailed("invalid workflow document", details=details) from exc
    return await create(session, user, data)


# --- runs ----------------------------------------------------------------------------------


async def list_runs(
    session: AsyncSession,
    user: User,
    *,
    workflow_id: str | None,
    status: str | None,
    page: int,
    page_size: int,
) -> RunList:
    rows, total = await repository.list_runs(
        session,
        user,
        workflow_id=workflow_id,
        status=status,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [RunRead.model_validate(row) for row in rows]
    return RunList(items=items, total=total, page=page, page_size=page_size)


async def _own_run(session: AsyncSession, user: User, run_id: str) -> WorkflowRun:
    run = await repository.get_run(session, user, run_id)
    if run is None:
        raise NotFound("Run not found", code="WORKFLOW_RUN_NOT_FOUND")
    return run


async def get_run(session: AsyncSession, user: User, run_id: str) -> RunDetail:
    return await run_detail(session, await _own_run(session, user, run_id))


async def cancel(session: AsyncSession, user: User, run_id: str) -> RunDetail:
    run = await _own_run(session, user, run_id)
    result = await session.execute(
        update(WorkflowRun)
        .where(WorkflowRun.id == run.id, WorkflowRun.status.in_(_ACTIVE))
        .values(
            status="cancelled",
            finished_at=utcnow(),
            error={"code": "CANCELLED", "message": "cancelled by the user"},
        )
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(f"run is {run.status}; it cannot be cancelled", code="RUN_NOT_ACTIVE")
    await session.commit()
    task = runner.task_of(run.id)
    if task is not None:
        task.cancel()
        await asyncio.wait({task}, timeout=5)
    await runner.announce(run.id, {"type": "run_cancelled", "at": time.time()})
    return await run_detail(session, await _own_run(session, user, run_id))


async def pause(session: AsyncSession, user: User, run_id: str, *, wait_s: float = 0) -> RunDetail:
    """Ask a run to stop between nodes: the nodes running finish, then the run is `paused`."""
    run = await _own_run(session, user, run_id)
    result = await session.execute(
        update(WorkflowRun)
        .where(WorkflowRun.id == run.id, WorkflowRun.status.in_(("queued", "running")))
        .values(pause_requested=True)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(f"run is {run.status}; only running runs pause", code="RUN_NOT_ACTIVE")
    await session.commit()
    # A run in another process notices `pause_requested` at its next heartbeat.
    runner.request_pause(run.id)
    task = runner.task_of(run.id)
    if task is not None and wait_s > 0:
        await asyncio.wait({task}, timeout=wait_s)
    return await run_detail(session, await _own_run(session, user, run_id))


async def resume(
    session: AsyncSession, user: User, run_id: str, data: ResumeRequest, *, wait_s: float = 0
) -> RunDetail:
    """Continue a paused (or failed) run, with approval decisions."""
    run = await _own_run(session, user, run_id)
    if run.status not in ("paused", "failed") or runner.task_of(run.id) is not None:
        raise Conflict(
            f"run is {run.status}; only paused or failed runs resume", code="RUN_NOT_PAUSED"
        )
    nodes = await repository.node_runs(session, run.id)
    pending = {n.approval_id for n in nodes if n.status == "waiting" and n.approval_id}
    unknown = sorted(set(data.decisions) - pending)
    if unknown:
        raise Conflict(f"no pending approval {', '.join(unknown)}", code="APPROVAL_NOT_PENDING")
    claimed = await session.execute(
        update(WorkflowRun)
        .where(WorkflowRun.id == run.id, WorkflowRun.status == run.status)
        .values(
            status="running",
            heartbeat_at=utcnow(),
            finished_at=None,
            error=None,
            pause_requested=False,
        )
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise Conflict("run changed meanwhile; try again", code="RUN_NOT_PAUSED")
    await session.commit()
    decisions = {
        key: ApprovalDecision(d.approved, d.comment, user.id) for key, d in data.decisions.items()
    }
    task = runner.start(run.id, decisions)
    if wait_s > 0:
        await asyncio.wait({task}, timeout=wait_s)
    return await run_detail(session, await _own_run(session, user, run_id))


def _downstream(definition: dict[str, Any], from_node: str) -> set[str]:
    """`from_node` and every node reachable from it."""
    targets: dict[str, list[str]] = {}
    for edge in definition.get("edges", []):
        targets.setdefault(edge["source"], []).append(edge["target"])
    seen, queue = {from_node}, deque([from_node])
    while queue:
        for target in targets.get(queue.popleft(), []):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _check_rerun(definition: dict[str, Any], data: RerunRequest) -> set[str]:
    nodes = {node["id"]: node for node in definition.get("nodes", [])}
    if data.from_node not in nodes:
        raise ValidationFailed(f"no node '{data.from_node}' in the run's workflow version")
    again = _downstream(definition, data.from_node)
    for node_id, fields in data.overrides.items():
        if node_id not in again:
            raise ValidationFailed(
                f"override of '{node_id}', which is not '{data.from_node}' or after it"
            )
        cls = node_class(nodes[node_id]["type"], nodes[node_id].get("version"))
        unknown = sorted(set(fields) - set(cls.Config.model_fields if cls else ()))
        if unknown:
            raise ValidationFailed(f"node '{node_id}' has no config field {', '.join(unknown)}")
    return again


_COPIED = (
    *("node_id", "node_type", "status", "attempts", "inputs", "outputs", "branch", "error"),
    *("handling", "approval_id", "logs", "duration_ms", "started_at", "finished_at"),
)


def _settled(node: WorkflowNodeRun) -> bool:
    """Recorded as done for good (the engine takes such a record instead of running it)."""
    if node.status == "failed":
        return node.handling not in (None, "fail")
    return node.status in ("succeeded", "skipped")


async def rerun(
    session: AsyncSession, user: User, run_id: str, data: RerunRequest, *, wait_s: float = 0
) -> RunDetail:
    """A new run of the same version: nodes before `from_node` keep the failed run's outcome
    (they do not run again); `from_node` and what follows run, with `overrides` applied."""
    run = await _own_run(session, user, run_id)
    if run.status != "failed":
        raise Conflict(f"run is {run.status}; only failed runs re-run", code="RUN_NOT_FAILED")
    version = await repository.get_version(session, run.workflow_id, run.version)
    if version is None:
        raise NotFound("the run's workflow version is gone", code="WORKFLOW_VERSION_NOT_FOUND")
    again = _check_rerun(version.snapshot.get("definition") or {}, data)
    copy_of = WorkflowRun(
        workflow_id=run.workflow_id,
        version=run.version,
        owner_id=user.id,
        status="queued",
        inputs=dict(run.inputs or {}),
        trigger="rerun",
        parent_run_id=run.id,
        overrides=data.overrides or None,
        started_at=utcnow(),
        heartbeat_at=utcnow(),
    )
    await repository.add(session, copy_of)
    kept = [n for n in await repository.node_runs(session, run.id) if n.node_id not in again]
    for node in kept:
        if _settled(node):
            values = {key: copy.deepcopy(getattr(node, key)) for key in _COPIED}
            session.add(WorkflowNodeRun(run_id=copy_of.id, **values))
    new_id = copy_of.id
    await session.commit()
    task = runner.start(new_id)
    if wait_s > 0:
        await asyncio.wait({task}, timeout=wait_s)
    fresh = await repository.get_run(session, user, new_id)
    assert fresh is not None
    return await run_detail(session, fresh)
