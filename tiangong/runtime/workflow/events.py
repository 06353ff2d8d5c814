"""Typed events of one workflow run, in the style of `runtime.agent.events`.

`type` names the event on the wire; `to_dict()` is its JSON payload without the type. Times
are Unix seconds (`at`, `started_at`, `finished_at`); durations are milliseconds.
An error is `{"code": ..., "message": ...}`. Payloads share their dicts with the run (no
copy per event), so consumers treat them as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias

from tiangong.runtime.workflow.graph import OnError


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: str
    inputs: dict[str, Any]
    at: float

    type: ClassVar[Literal["run_started"]] = "run_started"

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "inputs": self.inputs, "at": self.at}


@dataclass(frozen=True, slots=True)
class RunResumed:
    run_id: str
    # Approval ids whose decision this resume brought.
    decided: list[str]
    at: float

    type: ClassVar[Literal["run_resumed"]] = "run_resumed"

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "decided": list(self.decided), "at": self.at}


@dataclass(frozen=True, slots=True)
class NodeStarted:
    """`inputs` is the node's config with every reference resolved."""

    run_id: str
    node_id: str
    node_type: str
    inputs: dict[str, Any]
    at: float

    type: ClassVar[Literal["node_started"]] = "node_started"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "inputs": self.inputs,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class NodeSucceeded:
    run_id: str
    node_id: str
    node_type: str
    outputs: dict[str, Any]
    # The branch the node chose (a condition case, "approved"), or None.
    branch: str | None
    attempts: int
    started_at: float
    finished_at: float
    duration_ms: float

    type: ClassVar[Literal["node_succeeded"]] = "node_succeeded"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "outputs": self.outputs,
            "branch": self.branch,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, slots=True)
class NodeFailed:
    """`handling` says what the run does next: stop ("fail"), go on as if the node succeeded
    with `{"error": ...}` as its outputs ("continue"), or follow its error edges ("branch")."""

    run_id: str
    node_id: str
    node_type: str
    error: dict[str, Any]
    handling: OnError
    attempts: int
    started_at: float
    finished_at: float
    duration_ms: float

    type: ClassVar[Literal["node_failed"]] = "node_failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "error": self.error,
            "handling": self.handling,
            "attempts": self.attempts,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, slots=True)
class NodeSkipped:
    """No incoming edge of the node was taken (an untaken branch, or a skipped upstream)."""

    run_id: str
    node_id: str
    node_type: str
    at: float

    type: ClassVar[Literal["node_skipped"]] = "node_skipped"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class NodeWaiting:
    """The node asked for a human decision; its branch waits until `resume` brings it."""

    run_id: str
    node_id: str
    node_type: str
    approval_id: str
    at: float

    type: ClassVar[Literal["node_waiting"]] = "node_waiting"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "approval_id": self.approval_id,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class RunPaused:
    """Nothing more can run until decisions arrive. `pending`: [{node_id, approval_id}]."""

    run_id: str
    pending: list[dict[str, str]]
    at: float

    type: ClassVar[Literal["run_paused"]] = "run_paused"

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "pending": [dict(p) for p in self.pending], "at": self.at}


@dataclass(frozen=True, slots=True)
class RunFinished:
    """`outputs` merges the outputs of the end nodes that ran, in the order they finished."""

    run_id: str
    outputs: dict[str, Any]
    at: float
    duration_ms: float

    type: ClassVar[Literal["run_finished"]] = "run_finished"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "outputs": self.outputs,
            "at": self.at,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, slots=True)
class RunFailed:
    run_id: str
    error: dict[str, Any]
    # The node whose failure ended the run, if a node did.
    node_id: str | None
    at: float
    duration_ms: float

    type: ClassVar[Literal["run_failed"]] = "run_failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "error": self.error,
            "node_id": self.node_id,
            "at": self.at,
            "duration_ms": self.duration_ms,
        }


WorkflowEvent: TypeAlias = (
    RunStarted
    | RunResumed
    | NodeStarted
    | NodeSucceeded
    | NodeFailed
    | NodeSkipped
    | NodeWaiting
    | RunPaused
    | RunFinished
    | RunFailed
)
