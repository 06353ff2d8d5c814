"""What the engine records of a run, and the store it records into.

The engine saves a node's record when the node starts and again when it ends, waits or is
skipped, and the run's record when the run starts, pauses, resumes and ends; every save is
handed to the store before the matching event is yielded. `resume` rebuilds a run from these
records alone: a node recorded as finished is never run again, a node recorded as running (the
process died under it) or failed with on_error="fail" is run again. A store may write behind
(the platform's groups commits across runs), as long as what it has made durable is always a
prefix of what it was given, in order: then a crash loses only unrecorded progress, which resume
runs again. `MemoryCheckpointStore` serves tests and embedded use.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from tiangong.runtime.workflow.graph import OnError

NodeStatus = Literal["running", "waiting", "succeeded", "failed", "skipped"]
RunStatus = Literal["running", "paused", "succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class NodeRecord:
    node_id: str
    node_type: str
    status: NodeStatus
    # The node's config with references resolved, as it ran.
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    branch: str | None = None
    error: dict[str, Any] | None = None
    # For a failed node: what the run did about it.
    handling: OnError | None = None
    attempts: int = 0
    approval_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def settled(self) -> bool:
        """Recorded as done for good: resume takes its outcome instead of running it again."""
        if self.status == "failed":
            return self.handling != "fail"
        return self.status in ("succeeded", "skipped")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeRecord:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    status: RunStatus
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        return cls(**data)


@dataclass(slots=True)
class RunState:
    """Everything recorded of one run: what `resume` starts from."""

    run: RunRecord
    nodes: dict[str, NodeRecord] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run.to_dict(),
            "nodes": {key: rec.to_dict() for key, rec in self.nodes.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        nodes = {key: NodeRecord.from_dict(rec) for key, rec in data.get("nodes", {}).items()}
        return cls(RunRecord.from_dict(data["run"]), nodes)


class CheckpointStore(Protocol):
    """Run records, durable in the order they were saved (see the module docstring)."""

    async def save_run(self, record: RunRecord) -> None: ...

    async def save_node(self, run_id: str, record: NodeRecord) -> None: ...

    async def load(self, run_id: str) -> RunState | None: ...


class MemoryCheckpointStore:
    """In-process records, copied on the way in and out so callers cannot alter them."""

    def __init__(self) -> None:
        self._runs: dict[str, RunState] = {}

    async def save_run(self, record: RunRecord) -> None:
        state = self._runs.get(record.run_id)
        record = copy.deepcopy(record)
        if state is None:
            self._runs[record.run_id] = RunState(record)
        else:
            state.run = record

    async def save_node(self, run_id: str, record: NodeRecord) -> None:
        self._runs[run_id].nodes[record.node_id] = copy.deepcopy(record)

    async def load(self, run_id: str) -> RunState | None:
        state = self._runs.get(run_id)
        return copy.deepcopy(state) if state is not None else None
