"""Running one task with the agent runtime and storing what came of it.

A task is claimed (moved to in_progress by a conditional UPDATE) and committed before this
runs; the agent turn runs with no transaction open; the outcome is written in its own short
transaction, and only if the task is still in progress (a takeover may have reset it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.chat.schemas import MAX_MESSAGE, ChatRequest
from tiangong.chat.service import start_agent_turn
from tiangong.conversations.turns import Turn, TurnRequest, start_turn
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.errors import AppError
from tiangong.goals import repository
from tiangong.goals.models import Goal, GoalTask
from tiangong.model_configs.service import resolve

log = logging.getLogger(__name__)

SOURCE = "goal_task"
# A task executed by hand touches its row this often; recovery fails one silent for STALE_S.
HEARTBEAT_S = 10.0
CONTEXT_CHARS = 2_000
TASK_SYSTEM = (
    "You carry out one task of a larger goal. Do the task and answer with its result: "
    "the deliverable itself, complete, without asking questions back."
)

# Executions detached from the request that started them, kept so they are not collected.
_detached: set[asyncio.Task[Any]] = set()


@dataclass(frozen=True)
class Job:
    """What a claimed task needs to run, read before the transaction ended."""

    user_id: str
    goal_id: str
    task_id: str
    agent_id: str | None
    message: str
    requires_approval: bool


def task_message(goal: Goal, task: GoalTask, done: Sequence[GoalTask]) -> str:
    parts = [f"Goal: {goal.title}"]
    if goal.description:
        parts.append(goal.description[:CONTEXT_CHARS])
    if done:
        parts.append(
            "Results of the tasks this one depends on:\n"
            + "\n".join(f"- {d.title}: {(d.result or '')[:CONTEXT_CHARS]}" for d in done)
        )
    parts.append(f"Your task: {task.title}")
    if task.description:
        parts.append(task.description)
    return "\n\n".join(parts)[:MAX_MESSAGE]


def job_for(user_id: str, goal: Goal, task: GoalTask, tasks: Sequence[GoalTask]) -> Job:
    by_id = {t.id: t for t in tasks}
    done = [by_id[d] for d in task.depends_on if d in by_id]
    return Job(
        user_id=user_id,
        goal_id=goal.id,
        task_id=task.id,
        agent_id=task.agent_id or goal.agent_id,
        message=task_message(goal, task, done),
        requires_approval=task.requires_approval,
    )


async def _start(session: AsyncSession, user: User, job: Job) -> Turn:
    if job.agent_id:
        request = ChatRequest(message=job.message)
        return await start_agent_turn(session, user, job.agent_id, request, source=SOURCE)
    model = await resolve(session, user)
    await session.commit()
    return await start_turn(
        TurnRequest(
            user_id=user.id,
            message=job.message,
            model=model,
            source=SOURCE,
            system_prompt=TASK_SYSTEM,
        )
    )


async def _outcome(job: Job) -> dict[str, Any]:
    """The task's new values; a failure of any kind is the task's failure, not the caller's."""
    try:
        async with session_factory()() as session:
            user = await session.get(User, job.user_id)
            if user is None:
                return {"status": "failed", "error": "OWNER_GONE: the goal's owner was deleted"}
            turn = await _start(session, user, job)
        final = await turn.result()
    except AppError as exc:
        return {"status": "failed", "error": f"{exc.code}: {exc.message}"}
    except Exception:
        log.exception("task %s: execution crashed", job.task_id)
        return {"status": "failed", "error": "TASK_CRASHED: the execution failed unexpectedly"}
    if final.status == "failed":
        return {
            "status": "failed",
            "error": final.error or "TASK_FAILED: the model call failed",
            "session_id": turn.conversation_id,
        }
    status = "awaiting_approval" if job.requires_approval else "completed"
    return {"status": status, "result": final.content, "session_id": turn.conversation_id}


async def settle_goal(session: AsyncSession, goal_id: str) -> None:
    """A running goal whose every task is done (completed or cancelled) is completed."""
    counts = (await repository.status_counts(session, [goal_id])).get(goal_id, {})
    done = counts.get("completed", 0) + counts.get("cancelled", 0)
    if counts.get("completed", 0) and done == sum(counts.values()):
        await repository.set_goal_status(session, goal_id, ["running"], status="completed")


async def run(job: Job) -> str:
    """Execute a claimed task and store the outcome; returns the task's new status."""
    values = await _outcome(job)
    async with session_factory()() as session:
        stored = await repository.transition(
            session, job.task_id, ["in_progress"], finished_at=utcnow(), **values
        )
        if stored:
            await settle_goal(session, job.goal_id)
        await session.commit()
    if not stored:
        log.warning("task %s changed while it ran; its outcome was dropped", job.task_id)
    return str(values["status"])


async def _beating(job: Job) -> str:
    """`run` with a heartbeat on the task, so recovery can tell a dead execution (its process
    stopped) from a long one."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                async with session_factory()() as session:
                    await repository.touch_task(session, job.task_id, utcnow())
                    await session.commit()
            except Exception:
                log.exception("task %s: heartbeat failed", job.task_id)

    beating = asyncio.get_running_loop().create_task(beat())
    try:
        return await run(job)
    finally:
        beating.cancel()


async def run_detached(job: Job) -> str:
    """`run`, carried on even if the caller is cancelled (a client that disconnects), so a
    claimed task never stays in progress because nobody was left to store its outcome."""
    task = asyncio.get_running_loop().create_task(_beating(job))
    _detached.add(task)
    task.add_done_callback(_detached.discard)
    return await asyncio.shield(task)


async def drain() -> None:
    """Wait for detached executions (tests, shutdown)."""
    while _detached:
        await asyncio.wait(set(_detached))
