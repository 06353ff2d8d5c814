"""Group-committed checkpoints: many concurrent runs all end up fully recorded, writes are
batched, and a process that dies before its writer committed loses only the unrecorded
progress (recovery runs those nodes again, never a node recorded as succeeded)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.loopback import LoopbackServer, allow_loopback
from tiangong.db.base import utcnow
from tiangong.db.engine import get_engine, session_factory
from tiangong.workflows import details, runner, writer
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

API = "/api/v1/workflows"
EXEC = "/api/v1/executions"
CHAIN = ["start", "a", "b", "c", "end"]


def noop_chain() -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "start", "config": {"inputs": [{"name": "n"}]}},
        *({"id": n, "type": "variable_assign", "config": {}} for n in ("a", "b", "c")),
        {"id": "end", "type": "end", "config": {"outputs": {"n": "{{start.n}}"}}},
    ]
    edges = [{"source": s, "target": t} for s, t in zip(CHAIN, CHAIN[1:], strict=False)]
    return {"nodes": nodes, "edges": edges}


async def create(client: httpx.AsyncClient, headers: dict[str, str], definition: Any) -> str:
    body = {"name": "batch", "definition": definition}
    response = await client.post(API, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def start_noop(
    client: httpx.AsyncClient, headers: dict[str, str], mode: str
) -> httpx.Response:
    """A new no-op chain workflow, started once with n=1."""
    workflow_id = await create(client, headers, noop_chain())
    body = {"inputs": {"n": "1"}, "mode": mode}
    return await client.post(f"{API}/{workflow_id}/execute", json=body, headers=headers)


async def ended_noop(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """The id of a no-op chain run started async, once its runner has ended."""
    response = await start_noop(client, headers, "async")
    run_id = str(response.json()["id"])
    task = runner.task_of(run_id)
    if task is not None:
        await asyncio.wait({task}, timeout=10)
    return run_id


async def test_concurrent_runs_are_all_recorded_in_few_transactions(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    workflow_id = await create(client, user_headers, noop_chain())
    writes: list[str] = []

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = statement.split()
        if words[0] in ("INSERT", "UPDATE") and "workflow_node_runs" in words[:3]:
            writes.append(statement)

    event.listen(get_engine().sync_engine, "before_cursor_execute", counted)
    try:

        async def one(n: int) -> dict[str, Any]:
            body = {"inputs": {"n": str(n)}, "mode": "sync", "timeout_s": 30}
            url = f"{API}/{workflow_id}/execute"
            response = await client.post(url, json=body, headers=user_headers)
            assert response.status_code == 200, response.text
            return dict(response.json())

        runs = await asyncio.gather(*(one(n) for n in range(40)))
    finally:
        event.remove(get_engine().sync_engine, "before_cursor_execute", counted)
    # The sync answer is read from the database after the run: everything is committed.
    for n, run in enumerate(runs):
        assert run["status"] == "succeeded", run
        assert run["outputs"] == {"n": str(n)}
        assert [node["node_id"] for node in run["nodes"]] == CHAIN
        assert all(node["status"] == "succeeded" for node in run["nodes"])
        assert all(node["finished_at"] and node["started_at"] for node in run["nodes"])
    async with session_factory()() as session:
        ids = [run["id"] for run in runs]
        rows = (
            await session.execute(select(WorkflowNodeRun).where(WorkflowNodeRun.run_id.in_(ids)))
        ).scalars()
        assert Counter(row.status for row in rows) == {"succeeded": 40 * len(CHAIN)}
    # 40 runs x 5 nodes, each saved when it starts and when it ends: batched (executemany
    # counts once) and coalesced, far fewer statements than saves.
    assert len(writes) < 40 * len(CHAIN), len(writes)


class Counted:
    """Counts calls per node name: a node's side effect. `b` takes a while, so the batch
    recording `a` as succeeded is committed before `b` ends."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.server = LoopbackServer([Route("/count/{name}", self._count)])

    async def _count(self, request: Request) -> JSONResponse:
        name = request.path_params["name"]
        self.calls[name] += 1
        if name == "b":
            await asyncio.sleep(0.3)
        return JSONResponse({"n": self.calls[name]})


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counted]:
    allow_loopback(monkeypatch)
    counter = Counted()
    counter.server.start()
    yield counter
    counter.server.stop()


def http_chain(base: str) -> dict[str, Any]:
    order = ["start", "a", "b", "end"]
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            *(
                {"id": n, "type": "http_request", "config": {"url": f"{base}/count/{n}"}}
                for n in ("a", "b")
            ),
            {"id": "end", "type": "end", "config": {"outputs": {"b": "{{b.json.n}}"}}},
        ],
        "edges": [{"source": s, "target": t} for s, t in zip(order, order[1:], strict=False)],
    }


async def _crash_when(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    workflow_id: str,
    freeze: Any,
) -> str:
    """Start a run whose writer stops committing at the first batch `freeze` picks (the
    process "dies" with that batch unwritten, apart from the run's own row, which the 202
    answer waits for), then drop the run and its writer."""
    real = writer._write
    frozen = asyncio.Event()

    async def write(batch: Any) -> None:
        if frozen.is_set() or freeze(batch.inserts, batch.updates):
            if batch.run_inserts:
                # Only the row lands: the rest is lost with the process, and every later
                # batch waits for ever.
                await real(replace(batch, inserts={}, updates={}, run_values={}))
                frozen.set()
                return
            frozen.set()
            await asyncio.Event().wait()  # never commits
        await real(batch)

    monkeypatch.setattr(writer, "_write", write)
    response = await client.post(
        f"{API}/{workflow_id}/execute", json={"mode": "async"}, headers=headers
    )
    assert response.status_code == 202, response.text
    run_id = str(response.json()["id"])
    await asyncio.wait_for(frozen.wait(), 10)
    # Let the run go as far as it can in memory.
    await asyncio.sleep(0.2)
    # The "crash": the run's task and the unwritten batch vanish with the process.
    task = runner.task_of(run_id)
    assert task is not None
    task.cancel()
    stale = writer.writer()
    if stale._flusher is not None:
        stale._flusher.cancel()
    monkeypatch.setattr(writer, "_write", real)
    writer._writer = None  # the next process has a fresh writer
    async with session_factory()() as session:
        await session.execute(
            update(WorkflowRun).where(WorkflowRun.id == run_id).values(heartbeat_at=utcnow())
        )
        await session.commit()
    return run_id


async def _recovered(client: httpx.AsyncClient, headers: dict[str, str], run_id: str) -> Any:
    assert run_id in await runner.recover(stale_after_s=0)
    task = runner.task_of(run_id)
    if task is not None:
        await asyncio.wait({task}, timeout=20)
    response = await client.get(f"{EXEC}/{run_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_nothing_committed_before_the_crash_runs_everything_again(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    counted: Counted,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workflow_id = await create(client, user_headers, http_chain(counted.server.url))
    run_id = await _crash_when(
        client, user_headers, monkeypatch, workflow_id, lambda inserts, updates: True
    )
    async with session_factory()() as session:
        nodes = (
            await session.execute(select(WorkflowNodeRun).where(WorkflowNodeRun.run_id == run_id))
        ).scalars()
        assert list(nodes) == []  # no progress was recorded
    run = await _recovered(client, user_headers, run_id)
    assert run["status"] == "succeeded", run
    # Unrecorded progress is lost and done again: at-least-once, as for a node in flight.
    assert counted.calls["a"] >= 1 and counted.calls["b"] >= 1
    assert [node["status"] for node in run["nodes"]] == ["succeeded"] * 4


async def test_a_node_recorded_as_succeeded_is_not_run_again_after_a_crash(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    counted: Counted,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workflow_id = await create(client, user_headers, http_chain(counted.server.url))

    def b_done(inserts: dict[Any, Any], updates: dict[Any, Any]) -> bool:
        rows = {**inserts, **updates}
        return any(n == "b" and v["status"] == "succeeded" for (_, n), v in rows.items())

    run_id = await _crash_when(client, user_headers, monkeypatch, workflow_id, b_done)
    assert counted.calls == {"a": 1, "b": 1}
    async with session_factory()() as session:
        rows = (
            await session.execute(select(WorkflowNodeRun).where(WorkflowNodeRun.run_id == run_id))
        ).scalars()
        recorded = {row.node_id: row.status for row in rows}
    # What was committed is a prefix of what was saved: a is recorded done, b's end is not.
    assert recorded == {"start": "succeeded", "a": "succeeded", "b": "running"}, recorded
    run = await _recovered(client, user_headers, run_id)
    assert run["status"] == "succeeded", run
    assert counted.calls == {"a": 1, "b": 2}  # a was recorded: it did not run again
    assert str(run["outputs"]["b"]) == "2"


async def test_a_run_whose_row_is_gone_fails_alone_in_its_batch(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    response = await start_noop(client, user_headers, "sync")
    run_id = response.json()["id"]
    # One batch: a node of a run that no longer exists, and a change to a live run.
    out = writer.writer()
    values = {"node_type": "start", "status": "running", "created_at": utcnow()}
    gone = out.node("no-such-run", "start", values, insert=True)
    live = out.run(run_id, {"error": {"code": "X", "message": "kept"}})
    await asyncio.wait({gone, live})
    assert gone.exception() is not None
    assert live.exception() is None
    detail = await client.get(f"{EXEC}/{run_id}", headers=user_headers)
    assert detail.json()["error"] == {"code": "X", "message": "kept"}


async def test_a_sync_answer_from_memory_equals_the_rows_read_back(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """A sync start answers from what the run saved (no read-back): it must be exactly what
    GET /executions/{id} then reads from the database."""
    workflow_id = await create(client, user_headers, noop_chain())
    body = {"inputs": {"n": "7"}, "mode": "sync"}
    response = await client.post(f"{API}/{workflow_id}/execute", json=body, headers=user_headers)
    assert response.status_code == 200, response.text
    answered = response.json()
    assert answered["status"] == "succeeded" and answered["outputs"] == {"n": "7"}
    stored = (await client.get(f"{EXEC}/{answered['id']}", headers=user_headers)).json()
    assert answered == stored
    assert [node["node_id"] for node in answered["nodes"]] == CHAIN


async def test_an_async_start_is_durable_before_its_202(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """The new run's row is written with the writer's group commit, and the 202 waits for it."""
    response = await start_noop(client, user_headers, "async")
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    async with session_factory()() as session:
        row = await session.get(WorkflowRun, run_id)
    assert row is not None and row.trigger == "api" and row.inputs == {"n": "1"}


async def test_an_update_that_matched_no_row_is_reported_as_diverged(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """A run cancelled while its runner saved: the runner's UPDATE skips the cancelled row,
    and the writer says so, so a sync caller reads the row instead of trusting memory."""
    run_id = await ended_noop(client, user_headers)
    async with session_factory()() as session:
        await session.execute(
            update(WorkflowRun).where(WorkflowRun.id == run_id).values(status="cancelled")
        )
        await session.commit()
    active = writer.writer()
    active.watch(run_id)
    await active.run(run_id, {"status": "succeeded"})
    assert active.diverged(run_id) is True
    assert active.diverged(run_id) is False  # reported once, and no longer watched
    active.watch(run_id)
    await active.run(run_id, {"heartbeat_at": utcnow()})  # the row is cancelled: still skipped
    assert active.diverged(run_id) is True


async def test_a_run_detail_never_pairs_an_old_run_row_with_newer_node_rows(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    """On PostgreSQL each statement reads its own snapshot: a batch that moves the run on and
    records nodes can commit between the read of the run row and the read of its nodes. The
    detail reads the run row again when it changed, so it shows the state of one moment."""
    run_id = await ended_noop(client, user_headers)
    async with session_factory()() as session:
        run = await session.get(WorkflowRun, run_id)
        assert run is not None and run.status == "succeeded"
        # What a checkpoint batch commits after the run row was read, before its nodes are.
        async with session_factory()() as other:
            await other.execute(
                update(WorkflowRun)
                .where(WorkflowRun.id == run_id)
                .values(status="failed", error={"code": "X", "message": "later"})
            )
            await other.execute(
                update(WorkflowNodeRun)
                .where(WorkflowNodeRun.run_id == run_id, WorkflowNodeRun.node_id == "end")
                .values(status="failed")
            )
            await other.commit()
        detail = await details.run_detail(session, run)
    # Both before the batch (MySQL's repeatable read: one snapshot) or both after it.
    end = {n.node_id: n.status for n in detail.nodes}["end"]
    assert (detail.status, end) in (("succeeded", "succeeded"), ("failed", "failed"))
    stored = (await client.get(f"{EXEC}/{run_id}", headers=user_headers)).json()
    assert stored["status"] == "failed" and stored["nodes"][-1]["status"] == "failed"
