"""Planning prompts and the strict reading of the model's plan.

The model answers with JSON; anything that is not a valid plan (not JSON, unknown or duplicate
keys, dependency cycles, too many tasks) is refused as a whole, so nothing is half-written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tiangong.errors import UpstreamError
from tiangong.goals.graph import has_cycle, tree_problem
from tiangong.goals.models import Goal, GoalTask
from tiangong.runtime.llm.types import Role

RESULT_CHARS = 1_500

PLANNER_SYSTEM = """You are a project planner. Break the user's goal into concrete tasks.
Reply with JSON only, no prose, in exactly this shape:
{"tasks": [{"key": "t1", "title": "short title", "description": "what to do and what to deliver",
 "depends_on": ["keys or ids of tasks that must finish first"], "parent": null,
 "requires_approval": false, "priority": 0}]}
Rules: every key is unique; depends_on and parent name keys of this plan (or ids of tasks already
done, when given); dependencies must not form a cycle; at most {max_tasks} tasks; give a task
requires_approval true only when a person must check its result before work goes on."""


class PlanInvalid(UpstreamError):
    """The model's answer is not a usable plan: 502, the fault is upstream, not the caller's."""

    code = "GOAL_PLAN_INVALID"
    status = 502


class PlannedTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    depends_on: list[str] = Field(default_factory=list, max_length=50)
    parent: str | None = Field(default=None, max_length=64)
    requires_approval: bool = False
    priority: int = Field(default=0, ge=-1000, le=1000)


class Plan(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tasks: list[PlannedTask] = Field(min_length=1)


def _describe(task: GoalTask) -> str:
    text = f"- id {task.id}: {task.title} [{task.status}]"
    if task.result:
        text += f"\n  result: {task.result[:RESULT_CHARS]}"
    if task.error:
        text += f"\n  error: {task.error[:RESULT_CHARS]}"
    return text


def planner_messages(
    goal: Goal, max_tasks: int, instructions: str, done: Sequence[GoalTask] = ()
) -> list[tuple[Role, str]]:
    """(role, content) pairs for decompose (nothing done) or replan (the tasks kept)."""
    system = PLANNER_SYSTEM.replace("{max_tasks}", str(max_tasks))
    user = f"Goal: {goal.title}\n\n{goal.description}".strip()
    if done:
        user += (
            "\n\nThese tasks are already done; do not plan them again, but you may depend on "
            "them by id:\n" + "\n".join(_describe(t) for t in done)
        )
        user += "\n\nPlan only the remaining work."
    if instructions:
        user += f"\n\nInstructions: {instructions}"
    return [("system", system), ("user", user)]


def _json_text(text: str) -> str:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        return fenced.group(1).strip()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return text
    start = min(starts)
    end = max(text.rfind("}"), text.rfind("]"))
    return text[start : end + 1] if end > start else text


def parse_plan(text: str, max_tasks: int, done_ids: set[str] | None = None) -> list[PlannedTask]:
    """The model's plan, checked whole; PlanInvalid says what is wrong with it."""
    done_ids = done_ids or set()
    try:
        data = json.loads(_json_text(text))
    except ValueError as exc:
        raise PlanInvalid(f"The model's plan is not valid JSON: {exc}") from exc
    if isinstance(data, list):
        data = {"tasks": data}
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PlanInvalid(f"The model's plan has a bad field {where}: {first['msg']}") from exc
    tasks = plan.tasks
    if len(tasks) > max_tasks:
        raise PlanInvalid(f"The model planned {len(tasks)} tasks; at most {max_tasks} allowed")
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise PlanInvalid("The model's plan repeats a task key")
    known = set(keys) | done_ids
    for task in tasks:
        unknown = [d for d in [*task.depends_on, task.parent] if d is not None and d not in known]
        if unknown:
            raise PlanInvalid(f"Task '{task.key}' refers to unknown tasks: {unknown}")
        if task.key in task.depends_on:
            raise PlanInvalid(f"Task '{task.key}' depends on itself")
    if has_cycle({t.key: t.depends_on for t in tasks}):
        raise PlanInvalid("The model's plan has a dependency cycle")
    problem = tree_problem({t.key: t.parent for t in tasks if t.parent not in done_ids})
    if problem:
        raise PlanInvalid(f"The model's plan is not a tree: {problem}")
    return tasks
