"""Goal runs on Redis Streams: a worker that took the job and died does not lose the run; another
worker takes the message over after the lease, and completed tasks are not run again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.backends import REDIS_URL
from tiangong.db.base import new_id, utcnow
from tiangong.db.engine import session_factory
from tiangong.goals import jobs
from tiangong.goals.models import Goal, GoalTask
from tiangong.queue.redis_streams import GROUP, RedisStreamQueue

GOALS = "/api/v1/goals"
TASKS = "/api/v1/tasks"


@pytest.fixture
async def queue(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RedisStreamQueue]:
    q = RedisStreamQueue(REDIS_URL, f"tgtest:goals:{new_id()[:8]}:", lease_s=1.0)
    monkeypatch.setattr(jobs, "get_queue", lambda: q)
    monkeypatch.setattr(jobs, "_runner", None)
    yield q
    await jobs.stop(grace_s=1)
    keys = [key async for key in q.client.scan_iter(match=f"{q.prefix}*")]
    if keys:
        await q.client.delete(*keys)
    await q.close()


async def _until(check: Any, seconds: float = 30) -> None:
    for _ in range(int(seconds * 20)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_a_dead_workers_goal_run_is_taken_over_and_finished(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    queue: RedisStreamQueue,
) -> None:
    goal = (await client.post(GOALS, json={"title": "Two steps"}, headers=user_headers)).json()
    plan = {"tasks": [{"key": "a", "title": "One"}, {"key": "b", "title": "Two"}]}
    fake_llm.script([{"content": json.dumps(plan)}])
    await client.post(f"{GOALS}/{goal['id']}/decompose", headers=user_headers)
    tasks = (await client.get(TASKS, params={"goal_id": goal["id"]}, headers=user_headers)).json()
    by_title = {t["title"]: t["id"] for t in tasks["items"]}
    await client.post(f"{TASKS}/{by_title['One']}/complete", headers=user_headers)
    # A worker read the job, started task Two, and died: no ack, a lease nobody refreshes.
    stream = queue.stream(jobs.QUEUE)
    await queue.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    await queue.enqueue(jobs.QUEUE, goal["id"])
    taken: Any = await queue.client.xreadgroup(GROUP, "dead-worker", {stream: ">"}, count=1)
    assert taken and taken[0][1][0][1]["job"] == goal["id"]
    async with session_factory()() as session:
        await session.execute(
            update(Goal)
            .where(Goal.id == goal["id"])
            .values(
                status="running",
                run_id=new_id(),
                run_lease="dead-worker",
                run_heartbeat_at=utcnow() - timedelta(minutes=2),
            )
        )
        await session.execute(
            update(GoalTask)
            .where(GoalTask.id == by_title["Two"])
            .values(status="in_progress", run_lease="dead-worker", attempts=1)
        )
        await session.commit()
    fake_llm.reset()
    fake_llm.script([{"content": "two done"}])

    await jobs.start()  # a live worker: it takes the dead one's message after the lease

    async def finished() -> bool:
        got = await client.get(f"{GOALS}/{goal['id']}", headers=user_headers)
        return bool(got.json()["status"] == "completed")

    await _until(finished)

    async def acked() -> bool:
        return bool((await queue.client.xpending(stream, GROUP))["pending"] == 0)

    # The dead worker's message too: taken over, run (a no-op by now) and acknowledged.
    await _until(acked)
    await jobs.runner().idle()
    prompts = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert len(prompts) == 1 and "Your task: Two" in prompts[0]
    two = (await client.get(f"{TASKS}/{by_title['Two']}", headers=user_headers)).json()
    assert two["status"] == "completed" and two["result"] == "two done" and two["attempts"] == 2
