"""The workflow engine: a graph of typed nodes run concurrently, with checkpoints.

Pure: no FastAPI, no database. The platform injects `WorkflowServices` (LLM, agents, tools,
SSRF-safe HTTP, sandbox, knowledge search, sub-workflows, approvals) and a `CheckpointStore`,
and consumes the typed events. See `engine.py` for the scheduling rules.
"""

from tiangong.runtime.workflow.checkpoint import (
    CheckpointStore,
    MemoryCheckpointStore,
    NodeRecord,
    RunRecord,
    RunState,
)
from tiangong.runtime.workflow.engine import WorkflowEngine
from tiangong.runtime.workflow.errors import (
    NodeError,
    RunStateError,
    VariableError,
    WorkflowInvalid,
)
from tiangong.runtime.workflow.events import (
    NodeFailed,
    NodeSkipped,
    NodeStarted,
    NodeSucceeded,
    NodeWaiting,
    RunFailed,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    WorkflowEvent,
)
from tiangong.runtime.workflow.graph import (
    EdgeSpec,
    InnerNodeSpec,
    NodeSpec,
    RetryPolicy,
    WorkflowDefinition,
)
from tiangong.runtime.workflow.nodes import (
    Node,
    NodeContext,
    NodeResult,
    node_class,
    node_types,
    register_node,
)
from tiangong.runtime.workflow.nodes.base import NodeConfig
from tiangong.runtime.workflow.services import (
    ApprovalDecision,
    ApprovalRequest,
    Completion,
    WorkflowServices,
)
from tiangong.runtime.workflow.single import NodeInvalid, SingleNodeResult, node_problems, run_node
from tiangong.runtime.workflow.validate import Problem, validate

__all__ = [
    "ApprovalDecision",
    "ApprovalRequest",
    "CheckpointStore",
    "Completion",
    "EdgeSpec",
    "InnerNodeSpec",
    "MemoryCheckpointStore",
    "Node",
    "NodeConfig",
    "NodeContext",
    "NodeError",
    "NodeFailed",
    "NodeInvalid",
    "NodeRecord",
    "NodeResult",
    "NodeSkipped",
    "NodeSpec",
    "NodeStarted",
    "NodeSucceeded",
    "NodeWaiting",
    "Problem",
    "RetryPolicy",
    "RunFailed",
    "RunFinished",
    "RunPaused",
    "RunRecord",
    "RunResumed",
    "RunStarted",
    "RunState",
    "RunStateError",
    "SingleNodeResult",
    "VariableError",
    "WorkflowDefinition",
    "WorkflowEngine",
    "WorkflowEvent",
    "WorkflowInvalid",
    "WorkflowServices",
    "node_class",
    "node_problems",
    "node_types",
    "register_node",
    "run_node",
    "validate",
]
