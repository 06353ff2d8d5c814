"""What a node type is: a class with a Pydantic `Config` and an async `run`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from tiangong.runtime.workflow.errors import NodeError
from tiangong.runtime.workflow.graph import InnerNodeSpec
from tiangong.runtime.workflow.services import ApprovalDecision, WorkflowServices
from tiangong.runtime.workflow.variables import is_exact_reference

ConfigT = TypeVar("ConfigT", bound="NodeConfig")
T = TypeVar("T")

# A name usable as an expression variable, a template variable or an output field.
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]


# Validation context under which a field whose value is exactly one {{reference}} passes
# unchecked: its type can only be checked once the reference is resolved, at run time.
STATIC_CHECK = {"static_check": True}


class NodeConfig(BaseModel):
    """Base of every node's Config. Unknown keys are errors, so a typo is reported."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="wrap")
    @classmethod
    def _defer_references(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        if info.context and info.context.get("static_check") and is_exact_reference(value):
            return value
        return handler(value)


@dataclass(frozen=True, slots=True)
class NodeResult:
    outputs: dict[str, Any] = field(default_factory=dict)
    # Which outgoing edges to follow: those whose source_handle is this. None: the plain ones.
    branch: str | None = None
    # The id of an external decision (an approval) the node now waits for.
    wait_for: str | None = None


# run_inner(field, scope): run the inner node in config field `field` (see Node.inner_nodes),
# with `scope` (node id -> outputs) added to the variables it may reference, and return its
# outputs. The engine applies the inner node's timeout and retry policy.
RunInner = Callable[[str, Mapping[str, Mapping[str, Any]]], Awaitable[dict[str, Any]]]


def inner_node_id(parent_id: str, field: str) -> str:
    """The id an inner node runs under (in events of errors, and for its own inner nodes)."""
    return f"{parent_id}-{field}"


@dataclass(frozen=True, slots=True)
class NodeContext:
    run_id: str
    node_id: str
    services: WorkflowServices
    # The run's inputs as given (the start node checks them).
    run_inputs: Mapping[str, Any]
    # Outputs of the direct predecessors that ran, by node id.
    upstream: Mapping[str, Mapping[str, Any]]
    run_inner: RunInner
    attempt: int = 1


def require(service: T | None, name: str) -> T:
    if service is None:
        raise NodeError(
            f"{name} is not available to workflows here",
            code="SERVICE_UNAVAILABLE",
            retryable=False,
        )
    return service


class Node(Generic[ConfigT]):
    """A node type. One instance serves every node of the type; state lives in the engine.

    `run` gets the node's config with every `{{reference}}` resolved and validated as `Config`.
    """

    type_name: ClassVar[str]
    version: ClassVar[int]
    Config: ClassVar[type[NodeConfig]]
    # Config fields passed through as written: code, expressions, templates and inner node
    # specs are never built by pasting data into them.
    raw_fields: ClassVar[frozenset[str]] = frozenset()
    # Fields of `{{<this node's id>.x}}` that the node's inner nodes may reference.
    inner_scope: ClassVar[frozenset[str]] = frozenset()

    def handles(self, config: ConfigT) -> frozenset[str] | None:
        """The branches the node may choose; None if it takes none (plain edges only)."""
        return None

    def output_fields(self, config: ConfigT) -> frozenset[str] | None:
        """The fields of its outputs, or None when they are only known at run time."""
        return None

    def check(self, config: ConfigT) -> list[tuple[str, str]]:
        """Problems beyond the Config model, as (field, message)."""
        return []

    def inner_nodes(self, config: ConfigT) -> Mapping[str, InnerNodeSpec]:
        """Nodes this node runs itself, by config field (their configs are raw fields)."""
        return {}

    async def run(self, ctx: NodeContext, inputs: ConfigT) -> NodeResult:
        raise NotImplementedError

    async def decide(
        self, ctx: NodeContext, inputs: ConfigT, approval_id: str, decision: ApprovalDecision
    ) -> NodeResult:
        raise NodeError(f"{self.type_name} nodes take no decisions", retryable=False)
