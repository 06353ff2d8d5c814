"""The retention job: per-owner policies (or the default), finished runs only, in batches,
node runs with their runs, and harmless when several purges overlap."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.api.test_execution_logs import add_run, diamond
from tests.api.test_workflows import create
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.execution_logs import retention
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

API = "/api/v1/execution-logs"
NODE = [{"node_id": "start", "node_type": "start"}, {"node_id": "end", "node_type": "end"}]


async def remaining() -> tuple[set[str], set[str]]:
    async with session_factory()() as session:
        runs = set((await session.execute(select(WorkflowRun.id))).scalars())
        node_run_ids = set((await session.execute(select(WorkflowNodeRun.run_id))).scalars())
    return runs, node_run_ids


async def old_run(wf: dict[str, Any], days: float, status: str = "succeeded", **values: Any) -> str:
    at = utcnow() - timedelta(days=days)
    finished = at if status in ("succeeded", "failed", "cancelled") else None
    return await add_run(
        wf,
        NODE,
        status=status,
        created_at=at,
        finished_at=values.pop("finished_at", finished),
        **values,
    )


@pytest.fixture
async def seeded(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> dict[str, set[str]]:
    """Alice keeps 7 days (her policy); Bob has no policy, so the default 30 days applies."""
    response = await client.put(
        f"{API}/retention", json={"retention_days": 7}, headers=user_headers
    )
    assert response.status_code == 200
    alice = await create(client, user_headers, diamond())
    bob = await create(client, other_headers, diamond())
    gone = {
        await old_run(alice, 10),
        await old_run(alice, 8, "failed"),
        await old_run(alice, 9, "succeeded"),
        await old_run(alice, 20, "succeeded"),
        # Cancelled before it started: no finished_at, so its age is its created_at.
        await old_run(alice, 10, "cancelled", finished_at=None),
        await old_run(bob, 40),
        await old_run(bob, 31, "failed"),
    }
    kept = {
        await old_run(alice, 3),
        await old_run(alice, 10, "running"),
        await old_run(alice, 10, "paused"),
        await old_run(alice, 10, "queued"),
        await old_run(bob, 10),
        await old_run(bob, 29, "cancelled"),
        await old_run(bob, 40, "running"),
    }
    return {"gone": gone, "kept": kept}


async def test_purge_deletes_expired_finished_runs_per_owner_in_batches(
    seeded: dict[str, set[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Measured from a year ago, nothing is old enough yet.
    assert await retention.purge(now=utcnow() - timedelta(days=365), batch=2) == 0
    batches: list[int] = []
    delete_batch = retention._delete_batch

    async def counting(session: Any, ids: list[str], condition: Any) -> int:
        batches.append(len(ids))
        return await delete_batch(session, ids, condition)

    monkeypatch.setattr(retention, "_delete_batch", counting)
    assert await retention.purge(batch=2) == len(seeded["gone"])
    assert max(batches) == 2 and len(batches) >= 4  # 5 of Alice's runs and 2 of Bob's
    runs, node_runs = await remaining()
    assert runs == seeded["kept"]
    assert node_runs == seeded["kept"]
    # Nothing left to do: a second pass deletes nothing.
    assert await retention.purge(batch=2) == 0


async def test_overlapping_purges_delete_each_run_once(seeded: dict[str, set[str]]) -> None:
    counts = await asyncio.gather(*(retention.purge(batch=2) for _ in range(3)))
    assert sum(counts) == len(seeded["gone"])
    runs, node_runs = await remaining()
    assert runs == seeded["kept"] and node_runs == seeded["kept"]


async def test_policy_change_applies_at_next_purge(
    client: httpx.AsyncClient, user_headers: dict[str, str], seeded: dict[str, set[str]]
) -> None:
    response = await client.put(
        f"{API}/retention", json={"retention_days": 1}, headers=user_headers
    )
    assert response.status_code == 200
    await retention.purge(batch=50)
    runs, _ = await remaining()
    async with session_factory()() as session:
        statuses = dict(
            (await session.execute(select(WorkflowRun.id, WorkflowRun.status))).tuples().all()
        )
    # Alice's 3-day-old run is now past her 1 day; her unfinished runs stay.
    assert {statuses[r] for r in runs if r in seeded["kept"]} >= {"running", "paused", "queued"}
    assert len(runs) == len(seeded["kept"]) - 1


async def test_background_job_purges_at_start(seeded: dict[str, set[str]]) -> None:
    # The app's lifespan already started the job; restart it to see the pass it runs at once.
    await retention.stop()
    retention.start()
    try:
        for _ in range(200):
            runs, _ = await remaining()
            if runs == seeded["kept"]:
                break
            await asyncio.sleep(0.05)
        assert runs == seeded["kept"]
    finally:
        await retention.stop()
        retention.start()
    async with session_factory()() as session:
        count = (await session.execute(select(func.count(WorkflowNodeRun.id)))).scalar_one()
    assert count == 2 * len(seeded["kept"])
