"""A run's performance breakdown from its node records and the definition it executed.

The critical path is the chain of nodes that decided when the run ended: start from the node
that finished last and step back, each time to the predecessor (by the definition's edges) that
finished last. That is the path a speed-up has to shorten; it is computed from what actually
ran, so skipped branches never appear on it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from tiangong.db.base import utcnow
from tiangong.execution_logs.schemas import CriticalPath, NodeTiming, RunPerformance, TypeTiming
from tiangong.execution_logs.timing import node_ms, span_ms
from tiangong.workflows.models import WorkflowNodeRun, WorkflowRun

_ACTIVE = ("queued", "running", "paused")


def _predecessors(definition: dict[str, Any]) -> dict[str, list[str]]:
    preds: dict[str, list[str]] = defaultdict(list)
    edges = definition.get("edges")
    for edge in edges if isinstance(edges, list) else []:
        if isinstance(edge, dict):
            source, target = edge.get("source"), edge.get("target")
            if isinstance(source, str) and isinstance(target, str):
                preds[target].append(source)
    return preds


def _covered_ms(intervals: list[tuple[datetime, datetime]]) -> float:
    """Length of the union of the intervals."""
    total = 0.0
    current: tuple[datetime, datetime] | None = None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds() * 1000
            current = (start, end)
        elif end > current[1]:
            current = (current[0], end)
    if current is not None:
        total += (current[1] - current[0]).total_seconds() * 1000
    return total


def _critical_path(
    by_id: dict[str, WorkflowNodeRun], preds: dict[str, list[str]]
) -> CriticalPath | None:
    finished = [n for n in by_id.values() if n.finished_at is not None]
    if not finished:
        return None
    node: WorkflowNodeRun | None = max(finished, key=lambda n: (n.finished_at, n.node_id))
    path: list[WorkflowNodeRun] = []
    while node is not None and node not in path:
        path.append(node)
        done = [
            by_id[p] for p in preds.get(node.node_id, []) if p in by_id and by_id[p].finished_at
        ]
        node = max(done, key=lambda n: (n.finished_at, n.node_id)) if done else None
    path.reverse()
    return CriticalPath(
        node_ids=[n.node_id for n in path], duration_ms=sum(node_ms(n) or 0.0 for n in path)
    )


def analyse(
    run: WorkflowRun,
    nodes: list[WorkflowNodeRun],
    definition: dict[str, Any] | None,
    *,
    limit: int,
) -> RunPerformance:
    end = run.finished_at or (utcnow() if run.status in _ACTIVE else None)
    total = span_ms(run.started_at, end)
    preds = _predecessors(definition) if definition is not None else {}
    by_id = {n.node_id: n for n in nodes}

    timings: list[NodeTiming] = []
    by_type: dict[str, list[float]] = defaultdict(list)
    intervals: list[tuple[datetime, datetime]] = []
    for node in nodes:
        duration = node_ms(node)
        if duration is None:
            continue
        by_type[node.node_type].append(duration)
        if node.started_at is not None and node.finished_at is not None:
            intervals.append((node.started_at, node.finished_at))
        timings.append(
            NodeTiming(
                node_id=node.node_id,
                node_type=node.node_type,
                status=node.status,
                duration_ms=duration,
                share=duration / total if total else None,
                wait_ms=_wait_ms(
                    run, node, [by_id[p] for p in preds.get(node.node_id, []) if p in by_id]
                )
                if definition is not None
                else None,
                started_at=node.started_at,
                finished_at=node.finished_at,
            )
        )
    timings.sort(key=lambda t: (-t.duration_ms, t.node_id))
    node_time = sum(t.duration_ms for t in timings)
    types = [
        TypeTiming(
            node_type=kind, count=len(values), total_ms=sum(values), share=sum(values) / total
        )
        if total
        else TypeTiming(node_type=kind, count=len(values), total_ms=sum(values), share=None)
        for kind, values in by_type.items()
    ]
    types.sort(key=lambda t: (-t.total_ms, t.node_type))
    idle = max(0.0, total - _covered_ms(intervals)) if total is not None else None
    note = None
    if definition is None:
        note = "the run's version snapshot is missing, so no critical path or waits"
    return RunPerformance(
        run_id=run.id,
        status=run.status,
        total_ms=total,
        queue_ms=span_ms(run.created_at, run.started_at),
        node_time_ms=node_time,
        idle_ms=idle,
        slowest=timings[:limit],
        by_type=types,
        critical_path=_critical_path(by_id, preds) if definition is not None else None,
        critical_path_note=note,
    )


def _wait_ms(run: WorkflowRun, node: WorkflowNodeRun, preds: list[WorkflowNodeRun]) -> float | None:
    # A predecessor with no record never ran (skipped branch): it did not hold this node up.
    ready = [p.finished_at for p in preds if p.finished_at is not None]
    ready_at = max(ready) if ready else run.started_at
    return span_ms(ready_at, node.started_at)
