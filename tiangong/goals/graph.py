"""Checks on the task graph: dependencies form a DAG, parents form a tree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tiangong.goals.models import GoalTask

MAX_DEPTH = 10


def has_cycle(edges: Mapping[str, Iterable[str]]) -> bool:
    """True if following edges (node -> the nodes it needs) can come back to a node.
    Edges to nodes outside the mapping end there."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in edges:
        if start in state:
            continue
        stack: list[tuple[str, list[str]]] = [(start, list(edges.get(start, ())))]
        state[start] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                continue
            nxt = todo.pop()
            if nxt not in edges or state.get(nxt) == 2:
                continue
            if state.get(nxt) == 1:
                return True
            state[nxt] = 1
            stack.append((nxt, list(edges.get(nxt, ()))))
    return False


def depth_of(node: str, parents: Mapping[str, str | None]) -> int:
    """How many ancestors `node` has; assumes the parents form no cycle."""
    depth, current = 0, parents.get(node)
    while current is not None:
        depth += 1
        current = parents.get(current)
    return depth


def tree_problem(parents: Mapping[str, str | None]) -> str | None:
    """Why the parent links do not form a tree of at most MAX_DEPTH levels, or None."""
    edges = {node: [parent] if parent else [] for node, parent in parents.items()}
    if has_cycle(edges):
        return "parent links form a cycle"
    if any(depth_of(node, parents) >= MAX_DEPTH for node in parents):
        return f"tasks nest at most {MAX_DEPTH} levels deep"
    return None


def blockers_of(task: GoalTask, tasks: Sequence[GoalTask]) -> list[GoalTask]:
    """The task's dependencies that are not completed yet."""
    by_id = {t.id: t for t in tasks}
    return [by_id[d] for d in task.depends_on if d in by_id and by_id[d].status != "completed"]


def ready(tasks: Sequence[GoalTask]) -> list[GoalTask]:
    """Pending (so unclaimed) tasks whose dependencies are all completed, most urgent first."""
    found = [t for t in tasks if t.status == "pending" and not blockers_of(t, tasks)]
    return sorted(found, key=lambda t: (-t.priority, t.order))
