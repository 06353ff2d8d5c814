"""Tasks of a goal: CRUD with tree and DAG checks, and the task status machine.

Every move between states is a conditional UPDATE on the status the move starts from, so two
callers racing (two claims, a claim and an execution) cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.service import get_visible as visible_agent
from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.errors import BadRequest, Conflict, NotFound
from tiangong.goals import execution, graph, jobs, repository
from tiangong.goals.models import Goal, GoalTask
from tiangong.goals.schemas import (
    Blockers,
    ClaimRequest,
    TaskCreate,
    TaskList,
    TaskRead,
    TaskUpdate,
)
from tiangong.goals.service import own_goal

CANCELLABLE = ("pending", "claimed", "awaiting_approval", "failed")


def _not_found() -> NotFound:
    return NotFound("Task not found", code="TASK_NOT_FOUND")


async def _own(session: AsyncSession, user: User, task_id: str, *, fresh: bool = False) -> GoalTask:
    task = await repository.get_task(session, user.id, task_id, fresh=fresh)
    if task is None:
        raise _not_found()
    return task


async def _read(session: AsyncSession, user: User, task_id: str) -> TaskRead:
    return TaskRead.model_validate(await _own(session, user, task_id, fresh=True))


def _check_links(
    task_id: str | None,
    parent_id: str | None,
    depends_on: Sequence[str],
    tasks: Sequence[GoalTask],
) -> None:
    """The parent and dependencies name other tasks of the same goal and form no cycle."""
    by_id = {t.id: t for t in tasks}
    if parent_id is not None and (parent_id == task_id or parent_id not in by_id):
        raise BadRequest(
            "parent_id must name another task of the same goal", code="TASK_INVALID_PARENT"
        )
    foreign = [d for d in depends_on if d not in by_id or d == task_id]
    if foreign:
        raise BadRequest(
            f"depends_on must name other tasks of the same goal; not: {foreign}",
            code="TASK_INVALID_DEPENDENCY",
        )
    parents: dict[str, str | None] = {t.id: t.parent_id for t in tasks}
    edges: dict[str, list[str]] = {t.id: list(t.depends_on) for t in tasks}
    key = task_id or "(new)"
    parents[key], edges[key] = parent_id, list(depends_on)
    problem = graph.tree_problem(parents)
    if problem:
        raise BadRequest(f"Invalid parent_id: {problem}", code="TASK_INVALID_PARENT")
    if graph.has_cycle(edges):
        raise BadRequest("depends_on would form a cycle", code="TASK_DEPENDENCY_CYCLE")


async def list_tasks(
    session: AsyncSession,
    user: User,
    *,
    goal_id: str | None,
    status: str | None,
    page: int,
    page_size: int,
) -> TaskList:
    rows, total = await repository.list_tasks(
        session,
        user.id,
        goal_id=goal_id,
        status=status,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [TaskRead.model_validate(t) for t in rows]
    return TaskList(items=items, total=total, page=page, page_size=page_size)


async def create(session: AsyncSession, user: User, data: TaskCreate) -> TaskRead:
    goal = await own_goal(session, user, data.goal_id)
    if goal.status == "completed":
        raise Conflict("The goal is completed", code="GOAL_INVALID_TRANSITION")
    if data.agent_id is not None:
        await visible_agent(session, user, data.agent_id)
    depends_on = list(dict.fromkeys(data.depends_on))
    _check_links(None, data.parent_id, depends_on, await repository.tasks_of(session, goal.id))
    task = GoalTask(
        goal_id=goal.id,
        owner_id=user.id,
        status="pending",
        attempts=0,
        **{**data.model_dump(exclude={"goal_id"}), "depends_on": depends_on},
    )
    await repository.add(session, task)
    return await _read(session, user, task.id)


async def get(session: AsyncSession, user: User, task_id: str) -> TaskRead:
    return TaskRead.model_validate(await _own(session, user, task_id))


async def update(session: AsyncSession, user: User, task_id: str, data: TaskUpdate) -> TaskRead:
    task = await _own(session, user, task_id)
    changes = data.model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None or k in ("parent_id", "agent_id")}
    if changes.get("agent_id") is not None:
        await visible_agent(session, user, changes["agent_id"])
    if "depends_on" in changes:
        changes["depends_on"] = list(dict.fromkeys(changes["depends_on"]))
    if "parent_id" in changes or "depends_on" in changes:
        _check_links(
            task.id,
            changes.get("parent_id", task.parent_id),
            changes.get("depends_on", task.depends_on),
            await repository.tasks_of(session, task.goal_id),
        )
    if changes.pop("status", None) == "cancelled":
        if not await repository.transition(
            session, task.id, CANCELLABLE, status="cancelled", finished_at=utcnow()
        ):
            raise _invalid(task, "cancel", CANCELLABLE)
        await execution.settle_goal(session, task.goal_id)
    for key, value in changes.items():
        setattr(task, key, value)
    await session.flush()
    return await _read(session, user, task.id)


async def delete(session: AsyncSession, user: User, task_id: str) -> None:
    """Delete the task with its subtasks; other tasks stop depending on them."""
    task = await _own(session, user, task_id)
    tasks = await repository.tasks_of(session, task.goal_id)
    subtree = {task.id}
    grew = True
    while grew:
        more = {t.id for t in tasks if t.parent_id in subtree} - subtree
        subtree |= more
        grew = bool(more)
    if any(t.status == "in_progress" for t in tasks if t.id in subtree):
        raise Conflict("A task (or subtask) is being executed", code="TASK_IN_PROGRESS")
    await repository.delete_tasks(session, task.goal_id, subtree)


def _invalid(task: GoalTask, action: str, allowed: Sequence[str]) -> Conflict:
    return Conflict(
        f"Cannot {action} a task that is {task.status}; allowed from: {', '.join(allowed)}",
        code="TASK_INVALID_TRANSITION",
    )


async def _unblocked(session: AsyncSession, task: GoalTask) -> list[GoalTask]:
    """The goal's tasks; refuses if this task still waits on dependencies."""
    tasks = await repository.tasks_of(session, task.goal_id)
    waiting = graph.blockers_of(task, tasks)
    if waiting:
        titles = ", ".join(t.title for t in waiting[:5])
        raise Conflict(f"The task waits for: {titles}", code="TASK_BLOCKED")
    return tasks


async def _move(
    session: AsyncSession,
    user: User,
    task: GoalTask,
    action: str,
    allowed: Sequence[str],
    **values: Any,
) -> TaskRead:
    task_id = task.id
    if not await repository.transition(session, task_id, allowed, **values):
        raise _invalid(await _own(session, user, task_id, fresh=True), action, allowed)
    if values.get("status") == "completed":
        await execution.settle_goal(session, task.goal_id)
    await _continue_run(session, task.goal_id)
    return await _read(session, user, task_id)


async def _continue_run(session: AsyncSession, goal_id: str) -> None:
    """A goal running in the background picks up what this change made ready."""
    goal = await session.get(Goal, goal_id)
    if goal is not None and goal.status == "running" and goal.run_id is not None:
        jobs.submit_on_commit(session, goal_id)


async def claim(session: AsyncSession, user: User, task_id: str, data: ClaimRequest) -> TaskRead:
    task = await _own(session, user, task_id)
    if task.status != "pending":
        code = "TASK_ALREADY_CLAIMED" if task.status == "claimed" else "TASK_INVALID_TRANSITION"
        raise Conflict(f"The task is {task.status}, not pending", code=code)
    await _unblocked(session, task)
    claimer = data.claimer or f"user:{user.id}"
    now = utcnow()
    won = await repository.transition(
        session,
        task.id,
        ["pending"],
        status="claimed",
        claimed_by=claimer,
        claimed_at=now,
        attempts=GoalTask.attempts + 1,
    )
    if not won:
        raise Conflict("Someone else claimed the task first", code="TASK_ALREADY_CLAIMED")
    return await _read(session, user, task.id)


async def release(session: AsyncSession, user: User, task_id: str, data: ClaimRequest) -> TaskRead:
    task = await _own(session, user, task_id)
    if data.claimer is not None and task.claimed_by != data.claimer:
        raise Conflict("The task is not claimed by this claimer", code="TASK_CLAIMED_BY_OTHER")
    extra = GoalTask.claimed_by == data.claimer if data.claimer is not None else None
    if not await repository.transition(
        session, task.id, ["claimed"], extra, status="pending", claimed_by=None, claimed_at=None
    ):
        raise _invalid(task, "release", ["claimed"])
    await _continue_run(session, task.goal_id)
    return await _read(session, user, task.id)


async def complete(session: AsyncSession, user: User, task_id: str, result: str) -> TaskRead:
    task = await _own(session, user, task_id)
    await _unblocked(session, task)
    status = "awaiting_approval" if task.requires_approval else "completed"
    allowed = ("pending", "claimed", "in_progress")
    values = {"status": status, "result": result, "error": None, "finished_at": utcnow()}
    return await _move(session, user, task, "complete", allowed, **values)


async def fail(session: AsyncSession, user: User, task_id: str, error: str) -> TaskRead:
    task = await _own(session, user, task_id)
    allowed = ("pending", "claimed", "in_progress")
    values = {"status": "failed", "error": error, "finished_at": utcnow()}
    return await _move(session, user, task, "fail", allowed, **values)


async def approve(session: AsyncSession, user: User, task_id: str) -> TaskRead:
    task = await _own(session, user, task_id)
    return await _move(
        session, user, task, "approve", ["awaiting_approval"], status="completed", error=None
    )


async def reject(session: AsyncSession, user: User, task_id: str, reason: str) -> TaskRead:
    task = await _own(session, user, task_id)
    error = f"REJECTED: {reason}" if reason else "REJECTED"
    return await _move(
        session, user, task, "reject", ["awaiting_approval"], status="failed", error=error
    )


async def retry(session: AsyncSession, user: User, task_id: str) -> TaskRead:
    """A failed task goes back to pending; its attempts stay counted."""
    task = await _own(session, user, task_id)
    values = {
        "status": "pending",
        "error": None,
        "result": None,
        "claimed_by": None,
        "claimed_at": None,
        "run_lease": None,
        "finished_at": None,
    }
    return await _move(session, user, task, "retry", ["failed"], **values)


async def execute(session: AsyncSession, user: User, task_id: str) -> TaskRead:
    """Run the task now with its agent (or the goal's, or the default model) and wait."""
    task = await _own(session, user, task_id)
    goal = await own_goal(session, user, task.goal_id)
    if task.status not in ("pending", "claimed"):
        raise _invalid(task, "execute", ["pending", "claimed"])
    tasks = await _unblocked(session, task)
    job = execution.job_for(user.id, goal, task, tasks)
    now = utcnow()
    values = {"status": "in_progress", "started_at": now, "finished_at": None, "error": None}
    # A claimed task was counted when claimed; a pending one is counted now.
    won = await repository.transition(
        session,
        task.id,
        ["pending"],
        attempts=GoalTask.attempts + 1,
        claimed_by=f"user:{user.id}",
        claimed_at=now,
        **values,
    ) or await repository.transition(session, task.id, ["claimed"], **values)
    if not won:
        raise Conflict("The task was taken meanwhile", code="TASK_ALREADY_CLAIMED")
    await session.commit()
    await execution.run_detached(job)
    await _continue_run(session, task.goal_id)
    return await _read(session, user, task.id)


async def blockers(session: AsyncSession, user: User, task_id: str) -> Blockers:
    task = await _own(session, user, task_id)
    waiting = graph.blockers_of(task, await repository.tasks_of(session, task.goal_id))
    items = [TaskRead.model_validate(t) for t in waiting]
    return Blockers(task_id=task.id, blocked=bool(items), blockers=items)


async def available(session: AsyncSession, user: User, goal_id: str) -> list[TaskRead]:
    goal = await own_goal(session, user, goal_id)
    return [
        TaskRead.model_validate(t) for t in graph.ready(await repository.tasks_of(session, goal.id))
    ]
