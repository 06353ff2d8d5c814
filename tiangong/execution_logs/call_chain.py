"""The call tree of a run: its nodes, and what each called (agents, tools, models, and the
sub-workflow runs that point back at it through parent_run_id / parent_node_id)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.execution_logs import repository
from tiangong.execution_logs.schemas import Call, ChainNode, ChainRun
from tiangong.execution_logs.timing import execution_order, node_ms, span_ms
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

# Bounds the response however wide the fan-out: at most this many runs in one tree.
MAX_RUNS = 200


def _text(data: dict[str, Any] | None, key: str) -> str | None:
    value = (data or {}).get(key)
    return value if isinstance(value, str) else None


def _own_calls(node: WorkflowNodeRun) -> list[Call]:
    """Calls recorded on the node itself (not sub-workflow runs)."""
    if node.node_type == "agent":
        tool_calls = (node.outputs or {}).get("tool_calls")
        tools = [
            Call(kind="tool", name=_text(call, "name"))
            for call in (tool_calls if isinstance(tool_calls, list) else [])
            if isinstance(call, dict)
        ]
        return [
            Call(
                kind="agent",
                name=_text(node.inputs, "agent_id"),
                conversation_id=_text(node.outputs, "conversation_id"),
                calls=tools,
            )
        ]
    if node.node_type == "tool":
        return [Call(kind="tool", name=_text(node.inputs, "tool"))]
    if node.node_type == "llm":
        # No model in the config means the owner's default model.
        model = _text(node.inputs, "model") or _text(node.outputs, "model")
        return [Call(kind="llm", name=model)]
    return []


class _Tree:
    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.runs: dict[str, tuple[WorkflowRun, str | None, int]] = {}
        self.children: dict[tuple[str, str | None], list[str]] = defaultdict(list)
        self.nodes: dict[str, list[WorkflowNodeRun]] = defaultdict(list)

    def chain(self, run_id: str) -> ChainRun:
        run, name, depth = self.runs[run_id]
        node_ids = {node.node_id for node in self.nodes[run_id]}
        chain_nodes = [self._node(run, depth, node) for node in self.nodes[run_id]]
        orphans = [
            self._sub_call(child)
            for (parent, parent_node), kids in self.children.items()
            if parent == run_id and parent_node not in node_ids
            for child in kids
        ]
        return ChainRun(
            run_id=run.id,
            workflow_id=run.workflow_id,
            workflow_name=name,
            status=run.status,
            trigger=run.trigger,
            depth=depth,
            duration_ms=span_ms(run.started_at, run.finished_at),
            nodes=chain_nodes,
            calls=orphans,
        )

    def _sub_call(self, child_id: str) -> Call:
        child = self.runs[child_id][0]
        return Call(kind="sub_workflow", name=child.workflow_id, run=self.chain(child_id))

    def _node(self, run: WorkflowRun, depth: int, node: WorkflowNodeRun) -> ChainNode:
        calls = _own_calls(node)
        kids = self.children.get((run.id, node.node_id), [])
        calls.extend(self._sub_call(child) for child in kids)
        if node.node_type == "sub_workflow" and not kids:
            # Either the child run is past the depth limit or it was never recorded.
            calls.append(
                Call(
                    kind="sub_workflow",
                    name=_text(node.inputs, "workflow_id"),
                    truncated=depth >= self.max_depth,
                )
            )
        return ChainNode(
            node_id=node.node_id,
            node_type=node.node_type,
            status=node.status,
            duration_ms=node_ms(node),
            calls=calls,
        )


async def build(
    session: AsyncSession, user: User, run: WorkflowRun, name: str | None, *, max_depth: int
) -> ChainRun:
    tree = _Tree(max_depth)
    tree.runs[run.id] = (run, name, 0)
    frontier = [run.id]
    depth = 0
    # One query per level; the seen-check guards against a parent_run_id cycle.
    while frontier and depth < max_depth and len(tree.runs) < MAX_RUNS:
        depth += 1
        found = await repository.child_runs(session, user, frontier, MAX_RUNS - len(tree.runs))
        frontier = []
        for child, child_name in found:
            if child.id in tree.runs:
                continue
            tree.runs[child.id] = (child, child_name, depth)
            tree.children[(child.parent_run_id or "", child.parent_node_id)].append(child.id)
            frontier.append(child.id)
    for node in execution_order(await repository.node_runs(session, list(tree.runs))):
        tree.nodes[node.run_id].append(node)
    return tree.chain(run.id)
