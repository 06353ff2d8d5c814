"""Checkpoints: pausing for approval, resuming with a decision, and resuming after a crash."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.workflow.conftest import (
    FakeServices,
    by_node,
    chain,
    collect,
    edge,
    executions,
    graph,
    node,
    run_all,
)
from tiangong.errors import NotFound
from tiangong.runtime.workflow import (
    ApprovalDecision,
    MemoryCheckpointStore,
    NodeRecord,
    RunRecord,
    RunState,
    RunStateError,
    WorkflowEngine,
)

ROOT = Path(__file__).resolve().parents[2]


class FileCheckpointStore:
    """One JSON file per run, replaced atomically on every save: enough to survive SIGKILL."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, run_id: str) -> Path:
        return self.directory / f"{run_id}.json"

    def _read(self, run_id: str) -> dict[str, Any] | None:
        path = self._path(run_id)
        return json.loads(path.read_text()) if path.exists() else None

    def _write(self, run_id: str, data: dict[str, Any]) -> None:
        temporary = self._path(run_id).with_suffix(".tmp")
        with temporary.open("w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._path(run_id))

    async def save_run(self, record: RunRecord) -> None:
        data = self._read(record.run_id) or {"nodes": {}}
        data["run"] = record.to_dict()
        self._write(record.run_id, data)

    async def save_node(self, run_id: str, record: NodeRecord) -> None:
        data = self._read(run_id)
        assert data is not None
        data["nodes"][record.node_id] = record.to_dict()
        self._write(run_id, data)

    async def load(self, run_id: str) -> RunState | None:
        data = self._read(run_id)
        return RunState.from_dict(data) if data is not None else None


# --- approval --------------------------------------------------------------------------------


def approval_graph(directory: Path) -> dict[str, Any]:
    """start -> draft -> approve -> publish (approved) / revise (rejected); a side branch."""
    return graph(
        [
            node("start", "start", inputs=[{"name": "topic"}]),
            node("draft", "test_count", dir=str(directory), value="draft about {{start.topic}}"),
            node("side", "test_count", dir=str(directory), value="side"),
            node("approve", "approval", title="Publish?", data={"text": "{{draft.value}}"}),
            node("publish", "test_count", dir=str(directory), value="{{approve.comment}}"),
            node("revise", "test_count", dir=str(directory), value="{{approve.comment}}"),
            node("end", "end", outputs={
                "published": "{{publish.value}}", "revised": "{{revise.value}}",
                "by": "{{approve.decided_by}}", "side": "{{side.value}}",
            }),
        ],
        [
            edge("start", "draft"),
            edge("start", "side"),
            edge("draft", "approve"),
            edge("approve", "publish", "approved"),
            edge("approve", "revise", "rejected"),
            edge("publish", "end"),
            edge("revise", "end"),
            edge("side", "end"),
        ],
    )  # fmt: skip


async def pause(
    tmp_path: Path, fakes: FakeServices
) -> tuple[WorkflowEngine, MemoryCheckpointStore, str]:
    store = MemoryCheckpointStore()
    engine = WorkflowEngine(approval_graph(tmp_path), fakes.services(), checkpoint=store)
    events = await run_all(engine, {"topic": "tea"}, run_id="run-a")
    paused = events[-1]
    approval_id = "approval-run-a-approve"
    assert paused.type == "run_paused"
    assert paused.pending == [{"node_id": "approve", "approval_id": approval_id}]
    assert by_node(events, "node_waiting")["approve"].approval_id == approval_id
    # The other branch ran to its join; nothing after the approval did.
    assert executions(tmp_path, "side") == 1
    assert executions(tmp_path, "publish") == executions(tmp_path, "revise") == 0
    assert [r.data for r in fakes.approvals] == [{"text": "draft about tea"}]
    state = await store.load("run-a")
    assert state is not None and state.run.status == "paused"
    assert state.nodes["approve"].status == "waiting"
    return engine, store, approval_id


async def test_approval_pauses_and_an_approval_resumes_the_approved_branch(
    tmp_path: Path, fakes: FakeServices
) -> None:
    engine, store, approval_id = await pause(tmp_path, fakes)
    decision = ApprovalDecision(True, comment="ship it", decided_by="alice")
    events = await collect(engine.resume("run-a", decisions={approval_id: decision}))

    assert events[0].type == "run_resumed" and events[0].decided == [approval_id]
    assert by_node(events, "node_succeeded")["approve"].branch == "approved"
    assert set(by_node(events, "node_skipped")) == {"revise"}
    assert events[-1].type == "run_finished"
    assert events[-1].outputs == {
        "published": "ship it", "revised": None, "by": "alice", "side": "side",
    }  # fmt: skip
    # Nothing that had finished before the pause ran again.
    for node_id in ("draft", "side", "publish"):
        assert executions(tmp_path, node_id) == 1
    assert "draft" not in by_node(events, "node_started")
    assert len(fakes.approvals) == 1
    state = await store.load("run-a")
    assert state is not None and state.run.status == "succeeded"


async def test_a_rejection_resumes_the_rejected_branch(tmp_path: Path, fakes: FakeServices) -> None:
    engine, _, approval_id = await pause(tmp_path, fakes)
    decision = ApprovalDecision(False, comment="too long")
    events = await collect(engine.resume("run-a", decisions={approval_id: decision}))
    assert by_node(events, "node_succeeded")["approve"].branch == "rejected"
    assert set(by_node(events, "node_skipped")) == {"publish"}
    assert events[-1].outputs["revised"] == "too long"
    assert events[-1].outputs["published"] is None
    assert executions(tmp_path, "revise") == 1 and executions(tmp_path, "publish") == 0


async def test_resuming_without_the_decision_pauses_again_without_asking_again(
    tmp_path: Path, fakes: FakeServices
) -> None:
    engine, _, approval_id = await pause(tmp_path, fakes)
    events = await collect(engine.resume("run-a"))
    assert [e.type for e in events] == ["run_resumed", "run_paused"]
    assert events[-1].pending == [{"node_id": "approve", "approval_id": approval_id}]
    assert len(fakes.approvals) == 1


async def test_resume_refuses_unknown_approvals_finished_runs_and_unknown_runs(
    tmp_path: Path, fakes: FakeServices
) -> None:
    engine, _, approval_id = await pause(tmp_path, fakes)
    with pytest.raises(RunStateError, match="no pending approval"):
        await collect(engine.resume("run-a", decisions={"other": ApprovalDecision(True)}))
    await collect(engine.resume("run-a", decisions={approval_id: ApprovalDecision(True)}))
    with pytest.raises(RunStateError, match="already finished"):
        await collect(engine.resume("run-a"))
    with pytest.raises(NotFound):
        await collect(engine.resume("no-such-run"))
    with pytest.raises(RunStateError, match="already exists"):
        await collect(engine.run({"topic": "x"}, "run-a"))


async def test_resuming_a_failed_run_retries_the_failed_node_only(tmp_path: Path) -> None:
    store = MemoryCheckpointStore()
    trigger = tmp_path / "fail"
    trigger.touch()
    engine = WorkflowEngine(
        chain(
            node("start", "start"),
            node("first", "test_count", dir=str(tmp_path)),
            node("flaky", "test_count", dir=str(tmp_path), fail_while=str(trigger)),
            node("end", "end", outputs={"v": "{{flaky.node}}"}),
        ),
        checkpoint=store,
    )
    events = await run_all(engine, run_id="r")
    assert events[-1].type == "run_failed"
    trigger.unlink()
    events = await collect(engine.resume("r"))
    assert events[-1].type == "run_finished" and events[-1].outputs == {"v": "flaky"}
    assert executions(tmp_path, "first") == 1 and executions(tmp_path, "flaky") == 2


# --- crash -----------------------------------------------------------------------------------

CRASH_RUN = "crash-run"


def crash_graph(directory: Path) -> dict[str, Any]:
    """start -> a -> (b, slow) -> c -> end; `slow` waits while the gate file exists."""
    count = {"dir": str(directory)}
    return graph(
        [
            node("start", "start", inputs=[{"name": "x", "type": "integer"}]),
            node("a", "test_count", **count, value="{{start.x}}"),
            node("b", "test_count", **count, value="b"),
            node("slow", "test_count", **count, value="slow", gate=str(directory / "gate")),
            node("c", "test_count", **count,
                 value=["{{a.value}}", "{{b.value}}", "{{slow.value}}"]),
            node("end", "end", outputs={"c": "{{c.value}}"}),
        ],
        [
            edge("start", "a"),
            edge("a", "b"),
            edge("a", "slow"),
            edge("b", "c"),
            edge("slow", "c"),
            edge("c", "end"),
        ],
    )  # fmt: skip


async def crash_worker(directory: str) -> None:
    """The worker process: runs the workflow until the test kills it."""
    path = Path(directory)
    engine = WorkflowEngine(crash_graph(path), checkpoint=FileCheckpointStore(path))
    async for _ in engine.run({"x": 7}, CRASH_RUN):
        pass


async def wait_for(condition: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the worker"
        await asyncio.sleep(0.05)


async def test_a_run_killed_mid_node_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    store = FileCheckpointStore(tmp_path)
    (tmp_path / "gate").touch()
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import asyncio, sys; from tests.workflow.test_resume import crash_worker; "
        "asyncio.run(crash_worker(sys.argv[1]))",
        str(tmp_path),
        cwd=ROOT,
    )
    try:

        def worker_is_inside_slow() -> bool:
            if worker.returncode is not None:
                return True
            nodes = (store._read(CRASH_RUN) or {}).get("nodes", {})
            return (
                executions(tmp_path, "slow") == 1
                and nodes.get("slow", {}).get("status") == "running"
                and nodes.get("b", {}).get("status") == "succeeded"
            )

        await wait_for(worker_is_inside_slow)
        assert worker.returncode is None, "the worker ended before it could be killed"
        os.kill(worker.pid, signal.SIGKILL)
        assert await asyncio.wait_for(worker.wait(), 10) == -signal.SIGKILL
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()

    state = await store.load(CRASH_RUN)
    assert state is not None and state.run.status == "running"
    succeeded_before = {n for n, r in state.nodes.items() if r.status == "succeeded"}
    assert {"start", "a", "b"} <= succeeded_before
    assert state.nodes["slow"].status == "running" and "c" not in state.nodes

    (tmp_path / "gate").unlink()
    engine = WorkflowEngine(crash_graph(tmp_path), checkpoint=store)
    events = await collect(engine.resume(CRASH_RUN))

    assert events[-1].type == "run_finished"
    assert events[-1].outputs == {"c": [7, "b", "slow"]}
    started = set(by_node(events, "node_started"))
    assert started == {"slow", "c", "end"}
    for node_id in succeeded_before - {"start"}:
        assert executions(tmp_path, node_id) == 1, node_id
    assert executions(tmp_path, "slow") == 2  # killed once, then run to the end
    assert executions(tmp_path, "c") == 1
    final = await store.load(CRASH_RUN)
    assert final is not None and final.run.status == "succeeded"
    assert all(r.status == "succeeded" for r in final.nodes.values())
