"""Node types. Importing this package registers every builtin type."""

from tiangong.runtime.workflow.nodes import (  # noqa: F401  (registration)
    actions,
    approval,
    flow,
    io,
    knowledge,
    logic,
    model,
    template,
)
from tiangong.runtime.workflow.nodes.base import Node, NodeContext, NodeResult, require
from tiangong.runtime.workflow.nodes.registry import node_class, node_types, register_node

__all__ = [
    "Node",
    "NodeContext",
    "NodeResult",
    "node_class",
    "node_types",
    "register_node",
    "require",
]
