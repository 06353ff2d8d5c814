"""Failures of workflow definitions and nodes, in the platform's one error hierarchy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiangong.errors import AppError, Conflict, ValidationFailed

if TYPE_CHECKING:
    from tiangong.runtime.workflow.validate import Problem


class WorkflowInvalid(ValidationFailed):
    """The definition has problems; `details` lists every one with its node id."""

    code = "WORKFLOW_INVALID"

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        where = f" (node '{first.node_id}')" if first.node_id else ""
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        super().__init__(f"{first.message}{where}{more}", details=[p.to_dict() for p in problems])
        self.problems = problems


class RunStateError(Conflict):
    """The run cannot be started or resumed in its current state."""

    code = "WORKFLOW_RUN_STATE"


class NodeError(AppError):
    """A node failed. `retryable=False` for failures a retry cannot fix (bad input, bad config)."""

    code = "NODE_FAILED"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = True,
        details: Any = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retryable = retryable


class VariableError(NodeError):
    """A {{node_id.field}} reference could not be resolved."""

    code = "VARIABLE_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
