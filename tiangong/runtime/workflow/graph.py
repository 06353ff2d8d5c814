"""The definition of a workflow: nodes and the edges between them, as stored and exchanged.

The shape matches `agents.schemas.WorkflowConfig` (`nodes[{id, type, ...}]`,
`edges[{source, target, ...}]`). Extra keys are kept (an editor stores positions and the like);
what a node does is in its `config`, checked by its node class (see `validate`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OnError = Literal["fail", "continue", "branch"]

# The source_handle of the edges taken when a node with on_error="branch" fails.
ERROR_HANDLE = "error"


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=1, ge=1, le=10)
    backoff_s: float = Field(default=0.0, ge=0, le=300)
    # Each further wait is the previous one times this.
    multiplier: float = Field(default=2.0, ge=1, le=10)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before `attempt` (2, 3, ...)."""
        return self.backoff_s * self.multiplier ** (attempt - 2)


class NodeBehaviour(BaseModel):
    """How the engine runs a node, whatever its type."""

    type: str = Field(min_length=1, max_length=64)
    # None: the newest registered version of the type.
    version: int | None = Field(default=None, ge=1)
    config: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0, le=86_400)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)


class InnerNodeSpec(NodeBehaviour):
    """A node without an id or edges, run by another node (the body of a loop)."""

    model_config = ConfigDict(extra="forbid")


class NodeSpec(NodeBehaviour):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=100, pattern=r"^[\w-]+$")
    label: str | None = Field(default=None, max_length=200)
    on_error: OnError = "fail"


class EdgeSpec(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str = Field(min_length=1, max_length=100)
    target: str = Field(min_length=1, max_length=100)
    # Which outcome of the source this edge follows: a branch name (condition cases,
    # "approved"/"rejected"), "error", or None for a plain success.
    source_handle: str | None = Field(default=None, min_length=1, max_length=100)


class WorkflowDefinition(BaseModel):
    """Only the shape is checked here; `validate()` reports every problem of the graph."""

    model_config = ConfigDict(extra="allow")

    nodes: list[NodeSpec] = Field(default_factory=list, max_length=2_000)
    edges: list[EdgeSpec] = Field(default_factory=list, max_length=10_000)
