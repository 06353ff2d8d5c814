"""Durations and ordering of recorded runs and nodes."""

from __future__ import annotations

from datetime import datetime

from tiangong.workflows.models import WorkflowNodeRun


def span_ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds() * 1000)


def node_ms(node: WorkflowNodeRun) -> float | None:
    """The recorded duration, else the wall time between start and finish."""
    if node.duration_ms is not None:
        return float(node.duration_ms)
    return span_ms(node.started_at, node.finished_at)


def execution_order(nodes: list[WorkflowNodeRun]) -> list[WorkflowNodeRun]:
    """By start time; nodes that never started (skipped) last, in the order they were recorded."""
    return sorted(
        nodes,
        key=lambda n: (
            n.started_at is None,
            n.started_at or n.created_at,
            n.created_at,
            n.node_id,
        ),
    )
