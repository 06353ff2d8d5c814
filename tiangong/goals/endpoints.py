from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.goals import service, task_service
from tiangong.goals.schemas import (
    Blockers,
    ClaimRequest,
    CompleteRequest,
    FailRequest,
    GoalCreate,
    GoalList,
    GoalRead,
    GoalStatus,
    GoalUpdate,
    InteractReply,
    InteractRequest,
    PlanRequest,
    RejectRequest,
    RunHandle,
    TaskCreate,
    TaskList,
    TaskRead,
    TaskStatus,
    TaskTree,
    TaskUpdate,
)

goals = APIRouter(prefix="/goals", tags=["goals"])
tasks = APIRouter(prefix="/tasks", tags=["tasks"])

Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]


@goals.get("", response_model=GoalList)
async def list_goals(
    session: SessionDep,
    user: CurrentUser,
    page: Page = 1,
    page_size: PageSize = 20,
    status: GoalStatus | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> GoalList:
    return await service.list_goals(
        session, user, status=status, search=q, page=page, page_size=page_size
    )


@goals.post("", response_model=GoalRead, status_code=201)
async def create_goal(data: GoalCreate, session: SessionDep, user: CurrentUser) -> GoalRead:
    return await service.create(session, user, data)


@goals.get("/{goal_id}", response_model=GoalRead)
async def get_goal(goal_id: str, session: SessionDep, user: CurrentUser) -> GoalRead:
    return await service.get(session, user, goal_id)


@goals.put("/{goal_id}", response_model=GoalRead)
async def update_goal(
    goal_id: str, data: GoalUpdate, session: SessionDep, user: CurrentUser
) -> GoalRead:
    return await service.update(session, user, goal_id, data)


@goals.delete("/{goal_id}", status_code=204)
async def delete_goal(goal_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete(session, user, goal_id)
    return Response(status_code=204)


@goals.post("/{goal_id}/start", response_model=GoalRead)
async def start_goal(goal_id: str, session: SessionDep, user: CurrentUser) -> GoalRead:
    """draft (or failed) -> running."""
    return await service.transition(session, user, goal_id, "start")


@goals.post("/{goal_id}/pause", response_model=GoalRead)
async def pause_goal(goal_id: str, session: SessionDep, user: CurrentUser) -> GoalRead:
    """running -> paused: a background run picks no new task (the current one finishes)."""
    return await service.transition(session, user, goal_id, "pause")


@goals.post("/{goal_id}/resume", response_model=GoalRead)
async def resume_goal(goal_id: str, session: SessionDep, user: CurrentUser) -> GoalRead:
    """paused -> running; a goal that ran in the background carries on."""
    return await service.transition(session, user, goal_id, "resume")


@goals.post("/{goal_id}/decompose", response_model=TaskTree)
async def decompose_goal(
    goal_id: str,
    session: SessionDep,
    user: CurrentUser,
    data: Annotated[PlanRequest | None, Body()] = None,
) -> TaskTree:
    """Ask the goal's model for a plan and store its tasks; refused if it already has some."""
    return await service.decompose(session, user, goal_id, data or PlanRequest())


@goals.post("/{goal_id}/replan", response_model=TaskTree)
async def replan_goal(
    goal_id: str,
    session: SessionDep,
    user: CurrentUser,
    data: Annotated[PlanRequest | None, Body()] = None,
) -> TaskTree:
    """Keep completed tasks; replace the unfinished ones with a new plan given what is done."""
    return await service.replan(session, user, goal_id, data or PlanRequest())


@goals.post("/{goal_id}/execute-async", response_model=RunHandle, status_code=202)
async def execute_goal_async(goal_id: str, session: SessionDep, user: CurrentUser) -> RunHandle:
    """Run the goal's ready tasks in dependency order in the background; follow the goal."""
    return await service.execute_async(session, user, goal_id)


@goals.post("/{goal_id}/interact", response_model=InteractReply)
async def interact_with_goal(
    goal_id: str, data: InteractRequest, session: SessionDep, user: CurrentUser
) -> InteractReply:
    return await service.interact(session, user, goal_id, data.message)


@goals.get("/{goal_id}/tasks", response_model=TaskTree)
async def goal_task_tree(goal_id: str, session: SessionDep, user: CurrentUser) -> TaskTree:
    return await service.task_tree(session, user, goal_id)


@tasks.get("", response_model=TaskList)
async def list_tasks(
    session: SessionDep,
    user: CurrentUser,
    page: Page = 1,
    page_size: PageSize = 20,
    goal_id: Annotated[str | None, Query(max_length=36)] = None,
    status: TaskStatus | None = None,
) -> TaskList:
    return await task_service.list_tasks(
        session, user, goal_id=goal_id, status=status, page=page, page_size=page_size
    )


@tasks.post("", response_model=TaskRead, status_code=201)
async def create_task(data: TaskCreate, session: SessionDep, user: CurrentUser) -> TaskRead:
    return await task_service.create(session, user, data)


# Declared before /{task_id}, which would otherwise take "available" as an id.
@tasks.get("/available/{goal_id}", response_model=list[TaskRead])
async def available_tasks(goal_id: str, session: SessionDep, user: CurrentUser) -> list[TaskRead]:
    """Pending, unclaimed tasks whose dependencies are all completed, most urgent first."""
    return await task_service.available(session, user, goal_id)


@tasks.get("/{task_id}", response_model=TaskRead)
async def get_task(task_id: str, session: SessionDep, user: CurrentUser) -> TaskRead:
    return await task_service.get(session, user, task_id)


@tasks.put("/{task_id}", response_model=TaskRead)
async def update_task(
    task_id: str, data: TaskUpdate, session: SessionDep, user: CurrentUser
) -> TaskRead:
    return await task_service.update(session, user, task_id, data)


@tasks.delete("/{task_id}", status_code=204)
async def delete_task(task_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await task_service.delete(session, user, task_id)
    return Response(status_code=204)


@tasks.post("/{task_id}/execute", response_model=TaskRead)
async def execute_task(task_id: str, session: SessionDep, user: CurrentUser) -> TaskRead:
    """Run the task with its agent (else the goal's, else the default model) and wait."""
    return await task_service.execute(session, user, task_id)


@tasks.post("/{task_id}/retry", response_model=TaskRead)
async def retry_task(task_id: str, session: SessionDep, user: CurrentUser) -> TaskRead:
    return await task_service.retry(session, user, task_id)


@tasks.post("/{task_id}/claim", response_model=TaskRead)
async def claim_task(
    task_id: str,
    session: SessionDep,
    user: CurrentUser,
    data: Annotated[ClaimRequest | None, Body()] = None,
) -> TaskRead:
    """Only one claimer wins; the others get 409 TASK_ALREADY_CLAIMED."""
    return await task_service.claim(session, user, task_id, data or ClaimRequest())


@tasks.post("/{task_id}/release", response_model=TaskRead)
async def release_task(
    task_id: str,
    session: SessionDep,
    user: CurrentUser,
    data: Annotated[ClaimRequest | None, Body()] = None,
) -> TaskRead:
    return await task_service.release(session, user, task_id, data or ClaimRequest())


@tasks.post("/{task_id}/complete", response_model=TaskRead)
async def complete_task(
    task_id: str,
    session: SessionDep,
    user: CurrentUser,
    data: Annotated[CompleteRequest | None, Body()] = None,
) -> TaskRead:
    """Done; a task that requires approval waits for it (awaiting_approval) instead."""
    return await task_service.complete(session, user, task_id, (data or CompleteRequest()).result)


@tasks.post("/{task_id}/fail", response_model=TaskRead)
async def fail_task(
    task_id: str, data: FailRequest, session: SessionDep, user: CurrentUser
) -> TaskRead:
    return await task_service.fail(session, user, task_id, data.error)


@tasks.post("/{task_id}/approve", response_model=TaskRead)
async def approve_task(task_id: str, session: SessionDep, user: CurrentUser) -> TaskRead:
    return await task_service.approve(session, user, task_id)


@tasks.post("/{task_id}/reject", response_model=TaskRead)
async def reject_task(
    task_id: str,
    session: SessionDep,
    user: CurrentUser,
    data: Annotated[RejectRequest | None, Body()] = None,
) -> TaskRead:
    return await task_service.reject(session, user, task_id, (data or RejectRequest()).reason)


@tasks.get("/{task_id}/blockers", response_model=Blockers)
async def task_blockers(task_id: str, session: SessionDep, user: CurrentUser) -> Blockers:
    """The task's dependencies that are not completed yet."""
    return await task_service.blockers(session, user, task_id)
