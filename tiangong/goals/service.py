"""Goals: CRUD, the status machine, planning with the model, background runs, interaction.

Model calls happen with no transaction open: the read phase commits, the model answers, and
the write phase re-reads what it changes (the goal may have changed or gone meanwhile).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.service import get_visible as visible_agent
from tiangong.auth.models import User
from tiangong.db.base import new_id, utcnow
from tiangong.errors import Conflict, NotFound
from tiangong.goals import graph, jobs, llm, plan, repository, runner
from tiangong.goals.models import Goal, GoalTask
from tiangong.goals.schemas import (
    GoalCreate,
    GoalList,
    GoalRead,
    GoalUpdate,
    Interaction,
    InteractReply,
    PlanRequest,
    Progress,
    RunHandle,
    TaskNode,
    TaskTree,
)
from tiangong.runtime.llm.types import Role

# Which transitions each action makes: action -> (from states, to state).
TRANSITIONS = {
    "start": (("draft", "failed"), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
}
HISTORY_WRITE_ATTEMPTS = 10
HISTORY_ENTRIES = 100  # interaction entries kept on the goal
HISTORY_IN_PROMPT = 20
RESULT_CHARS = 500


def goal_not_found() -> NotFound:
    return NotFound("Goal not found", code="GOAL_NOT_FOUND")


async def own_goal(session: AsyncSession, user: User, goal_id: str) -> Goal:
    goal = await repository.get_goal(session, user.id, goal_id)
    if goal is None:
        raise goal_not_found()
    return goal


def progress(counts: dict[str, int]) -> Progress:
    total = sum(counts.values())
    counted = total - counts.get("cancelled", 0)
    completed = counts.get("completed", 0)
    percent = round(100 * completed / counted, 1) if counted else 0.0
    return Progress(
        total=total,
        completed=completed,
        failed=counts.get("failed", 0),
        percent=percent,
        by_status=counts,
    )


def _run_active(goal: Goal) -> bool:
    beat = goal.run_heartbeat_at
    fresh = beat is not None and beat > utcnow() - timedelta(seconds=runner.STALE_S)
    return goal.run_lease is not None and fresh


def to_read(goal: Goal, counts: dict[str, int]) -> GoalRead:
    return GoalRead(
        id=goal.id,
        owner_id=goal.owner_id,
        agent_id=goal.agent_id,
        title=goal.title,
        description=goal.description,
        status=goal.status,
        progress=progress(counts),
        run_id=goal.run_id,
        run_active=_run_active(goal),
        run_error=goal.run_error,
        created_at=goal.created_at,
        updated_at=goal.updated_at,
    )


async def read(session: AsyncSession, goal: Goal) -> GoalRead:
    await session.flush()
    await session.refresh(goal)
    counts = await repository.status_counts(session, [goal.id])
    return to_read(goal, counts.get(goal.id, {}))


async def list_goals(
    session: AsyncSession,
    user: User,
    *,
    status: str | None,
    search: str | None,
    page: int,
    page_size: int,
) -> GoalList:
    rows, total = await repository.list_goals(
        session,
        user.id,
        status=status,
        search=search,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    counts = await repository.status_counts(session, [g.id for g in rows])
    items = [to_read(g, counts.get(g.id, {})) for g in rows]
    return GoalList(items=items, total=total, page=page, page_size=page_size)


async def create(session: AsyncSession, user: User, data: GoalCreate) -> GoalRead:
    if data.agent_id is not None:
        await visible_agent(session, user, data.agent_id)
    goal = Goal(
        owner_id=user.id, title=data.title, description=data.description, agent_id=data.agent_id
    )
    await repository.add(session, goal)
    return await read(session, goal)


async def get(session: AsyncSession, user: User, goal_id: str) -> GoalRead:
    return await read(session, await own_goal(session, user, goal_id))


async def update(session: AsyncSession, user: User, goal_id: str, data: GoalUpdate) -> GoalRead:
    goal = await own_goal(session, user, goal_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("agent_id") is not None:
        await visible_agent(session, user, changes["agent_id"])
    for key, value in changes.items():
        if value is not None or key == "agent_id":
            setattr(goal, key, value)
    return await read(session, goal)


async def delete(session: AsyncSession, user: User, goal_id: str) -> None:
    await repository.delete_goal(session, await own_goal(session, user, goal_id))


async def transition(session: AsyncSession, user: User, goal_id: str, action: str) -> GoalRead:
    goal = await own_goal(session, user, goal_id)
    sources, target = TRANSITIONS[action]
    if not await repository.set_goal_status(session, goal.id, sources, status=target):
        raise Conflict(
            f"Cannot {action} a goal that is {goal.status}; allowed from: {', '.join(sources)}",
            code="GOAL_INVALID_TRANSITION",
        )
    if target == "running" and goal.run_id is not None:
        # A goal that ran in the background carries on from where it stopped.
        jobs.submit_on_commit(session, goal.id)
    return await read(session, goal)


async def execute_async(session: AsyncSession, user: User, goal_id: str) -> RunHandle:
    goal = await own_goal(session, user, goal_id)
    if goal.status not in ("draft", "running"):
        hint = "resume it" if goal.status == "paused" else "start it again"
        raise Conflict(f"The goal is {goal.status}; {hint} first", code="GOAL_INVALID_TRANSITION")
    counts = (await repository.status_counts(session, [goal.id])).get(goal.id, {})
    if not counts:
        raise Conflict("The goal has no tasks; decompose it first", code="GOAL_NOT_PLANNED")
    if goal.status == "running" and goal.run_id is not None and _run_active(goal):
        # Already running in the background: the same handle, no second run.
        return RunHandle(
            goal_id=goal.id, run_id=goal.run_id, status="queued", goal_status="running"
        )
    goal.status, goal.run_id, goal.run_error = "running", new_id(), None
    if goal.run_lease is None:
        goal.run_heartbeat_at = utcnow()  # queued now: recovery leaves it alone for a while
    await session.flush()
    jobs.submit_on_commit(session, goal.id)
    return RunHandle(goal_id=goal.id, run_id=goal.run_id, status="queued", goal_status="running")


def tree(goal_id: str, tasks: Sequence[GoalTask]) -> TaskTree:
    nodes = {t.id: TaskNode.model_validate(t) for t in tasks}
    roots: list[TaskNode] = []
    for task in tasks:
        parent = nodes.get(task.parent_id) if task.parent_id else None
        (parent.children if parent is not None else roots).append(nodes[task.id])
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.status] = counts.get(task.status, 0) + 1
    return TaskTree(goal_id=goal_id, progress=progress(counts), tasks=roots)


async def task_tree(session: AsyncSession, user: User, goal_id: str) -> TaskTree:
    goal = await own_goal(session, user, goal_id)
    return tree(goal.id, await repository.tasks_of(session, goal.id))


async def _plan(
    session: AsyncSession, user: User, goal_id: str, data: PlanRequest, *, replan: bool
) -> TaskTree:
    goal = await own_goal(session, user, goal_id)
    if goal.status == "completed":
        raise Conflict("The goal is completed", code="GOAL_INVALID_TRANSITION")
    tasks = await repository.tasks_of(session, goal.id)
    _check_plannable(tasks, replan=replan)
    done = [t for t in tasks if t.status == "completed"]
    model = await llm.goal_model(session, user, goal.agent_id)
    messages = plan.planner_messages(goal, data.max_tasks, data.instructions, done)
    agent_id = goal.agent_id
    await session.commit()
    text = await llm.complete(model, user.id, agent_id, messages)
    planned = plan.parse_plan(text, data.max_tasks, {t.id for t in done})
    # Write phase: the goal and its tasks as they are now, not as the read phase saw them.
    session.expire_all()
    goal = await own_goal(session, user, goal_id)
    tasks = await repository.tasks_of(session, goal.id)
    _check_plannable(tasks, replan=replan)
    kept = {t.id for t in tasks if t.status == "completed"}
    start = max((t.order for t in tasks if t.id in kept), default=-1) + 1
    await repository.delete_tasks(session, goal.id, {t.id for t in tasks} - kept)
    await repository.add(session, *_rows(goal, planned, kept, start))
    return tree(goal.id, await repository.tasks_of(session, goal.id))


def _check_plannable(tasks: Sequence[GoalTask], *, replan: bool) -> None:
    if not replan and tasks:
        raise Conflict("The goal already has tasks; replan it instead", code="GOAL_ALREADY_PLANNED")
    if any(t.status in runner.IN_FLIGHT - {"awaiting_approval"} for t in tasks):
        raise Conflict(
            "Tasks are claimed or in progress; wait for them, or release them, first",
            code="GOAL_TASKS_IN_PROGRESS",
        )


def _rows(
    goal: Goal, planned: Sequence[plan.PlannedTask], kept: set[str], start: int
) -> list[GoalTask]:
    """New task rows for the plan, parents before children (MySQL checks each row's FK)."""
    ids = {p.key: new_id() for p in planned}

    def ref(key: str) -> str:
        return ids.get(key) or key  # a kept task is named by its id

    parents = {p.key: p.parent for p in planned if p.parent in ids}
    rows = [
        GoalTask(
            id=ids[p.key],
            goal_id=goal.id,
            owner_id=goal.owner_id,
            parent_id=ref(p.parent) if p.parent and (p.parent in ids or p.parent in kept) else None,
            title=p.title,
            description=p.description,
            depends_on=[ref(d) for d in dict.fromkeys(p.depends_on)],
            requires_approval=p.requires_approval,
            priority=p.priority,
            order=start + i,
            status="pending",
            attempts=0,
        )
        for i, p in enumerate(planned)
    ]
    depth = {ids[p.key]: graph.depth_of(p.key, parents) for p in planned}
    return sorted(rows, key=lambda r: depth[r.id])


async def decompose(session: AsyncSession, user: User, goal_id: str, data: PlanRequest) -> TaskTree:
    return await _plan(session, user, goal_id, data, replan=False)


async def replan(session: AsyncSession, user: User, goal_id: str, data: PlanRequest) -> TaskTree:
    """Keep the completed tasks; replace everything unfinished with a new plan."""
    return await _plan(session, user, goal_id, data, replan=True)


def _context(goal: Goal, tasks: Sequence[GoalTask]) -> str:
    lines = [
        "You help the user with one of their goals. Answer about the goal and its tasks;",
        "be concrete and brief.",
        f"Goal: {goal.title} (status: {goal.status})",
    ]
    if goal.description:
        lines.append(goal.description[:2_000])
    depth = {t.id: graph.depth_of(t.id, {x.id: x.parent_id for x in tasks}) for t in tasks}
    lines.append("Tasks:" if tasks else "No tasks yet.")
    for task in tasks:
        line = f"{'  ' * depth[task.id]}- [{task.status}] {task.title}"
        if task.result:
            line += f" -> {task.result[:RESULT_CHARS]}"
        if task.error:
            line += f" (error: {task.error[:RESULT_CHARS]})"
        lines.append(line)
    return "\n".join(lines)


async def interact(session: AsyncSession, user: User, goal_id: str, message: str) -> InteractReply:
    goal = await own_goal(session, user, goal_id)
    tasks = await repository.tasks_of(session, goal.id)
    model = await llm.goal_model(session, user, goal.agent_id)
    messages: list[tuple[Role, str]] = [("system", _context(goal, tasks))]
    messages += [(e["role"], e["content"]) for e in goal.interactions[-HISTORY_IN_PROMPT:]]
    messages.append(("user", message))
    agent_id = goal.agent_id
    asked = utcnow()
    await session.commit()
    reply = await llm.complete(model, user.id, agent_id, messages)
    entries = [
        Interaction(role="user", content=message, at=asked).model_dump(mode="json"),
        Interaction(role="assistant", content=reply, at=utcnow()).model_dump(mode="json"),
    ]
    # Compare-and-set on updated_at: two turns answered at once must both land in the history.
    for _ in range(HISTORY_WRITE_ATTEMPTS):
        await session.rollback()  # a fresh snapshot (MySQL's repeatable read keeps the old one)
        goal = await own_goal(session, user, goal_id)
        stored = [*goal.interactions, *entries][-HISTORY_ENTRIES:]
        if await repository.replace_interactions(session, goal.id, goal.updated_at, stored):
            break
    else:
        raise Conflict("The goal kept changing; try again", code="GOAL_BUSY")
    history = [Interaction.model_validate(e) for e in stored]
    return InteractReply(goal_id=goal.id, reply=reply, history=history)
