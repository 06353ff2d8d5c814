"""Runs a dead process left behind are found by the live processes, periodically, and queued
again once per window rather than by every pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.api.test_goals import GOALS, _planned
from tiangong.db.base import new_id, utcnow
from tiangong.db.engine import session_factory
from tiangong.goals import jobs
from tiangong.goals.models import Goal
from tiangong.queue.memory import MemoryQueue


async def _orphan(goal_id: str, lease: str | None, beat_s_ago: float | None) -> None:
    """The goal runs in the background, held by `lease` (None: nobody) since `beat_s_ago`."""
    beat = None if beat_s_ago is None else utcnow() - timedelta(seconds=beat_s_ago)
    async with session_factory()() as session:
        await session.execute(
            update(Goal)
            .where(Goal.id == goal_id)
            .values(status="running", run_id=new_id(), run_lease=lease, run_heartbeat_at=beat)
        )
        await session.commit()


def _recording_runner() -> tuple[jobs.GoalRunner, list[str]]:
    """A runner whose queue only records what recovery puts on it."""
    runner = jobs.GoalRunner(MemoryQueue(), consume=False)
    queued: list[str] = []

    async def enqueue(queue_name: str, job_id: str) -> None:
        queued.append(job_id)

    runner.queue.enqueue = enqueue  # type: ignore[method-assign]
    return runner, queued


@pytest.fixture
async def fast_recovery(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    await jobs.stop(grace_s=1)
    monkeypatch.setattr(jobs, "RECOVER_EVERY_S", 0.1)
    yield
    await jobs.stop(grace_s=1)


async def test_a_live_process_picks_up_a_dead_run_without_a_restart(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    fast_recovery: None,
) -> None:
    goal_id, tasks = await _planned(client, user_headers, fake_llm)
    await jobs.start()  # running, and its start-up recovery has found nothing
    fake_llm.script([{"content": f"done: {title}"} for title in tasks])
    await _orphan(goal_id, "dead-process", beat_s_ago=jobs.STALE_S * 3)

    async def finished() -> bool:
        got = await client.get(f"{GOALS}/{goal_id}", headers=user_headers)
        return bool(got.json()["status"] == "completed")

    for _ in range(200):
        if await finished():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the dead run was never picked up")


async def test_an_unheld_run_is_queued_again_once_per_window(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    goal_id, _ = await _planned(client, user_headers, fake_llm)
    runner, queued = _recording_runner()
    await _orphan(goal_id, None, beat_s_ago=None)  # queued by a process that died at once
    await runner.recover()
    await runner.recover()  # a second pass (or another process) in the same window
    assert queued == [goal_id]
    await _orphan(goal_id, None, beat_s_ago=jobs.STALE_S * 2)  # and still nobody took it
    await runner.recover()
    assert queued == [goal_id, goal_id]
    # A live run (fresh heartbeat under a lease) is never queued again.
    await _orphan(goal_id, "live-process", beat_s_ago=1)
    await runner.recover()
    assert len(queued) == 2


async def test_execute_async_marks_the_run_queued(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    goal_id, _ = await _planned(client, user_headers, fake_llm)
    submitted: list[str] = []
    monkeypatch.setattr(jobs, "submit_on_commit", lambda session, gid: submitted.append(gid))
    response = await client.post(f"{GOALS}/{goal_id}/execute-async", headers=user_headers)
    assert response.status_code == 202, response.text
    assert submitted == [goal_id]
    runner, queued = _recording_runner()
    await runner.recover()  # another process's pass right after: the run is not queued twice
    assert queued == []
