"""A run as the API shows it: from its rows, or from what its runner saved (no read-back)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.workflows import repository
from tiangong.workflows.models import WorkflowRun
from tiangong.workflows.schemas import NodeRunRead, RunDetail


def _pending(nodes: list[NodeRunRead]) -> list[dict[str, str]]:
    return [
        {"node_id": node.node_id, "approval_id": node.approval_id}
        for node in nodes
        if node.status == "waiting" and node.approval_id
    ]


async def run_detail(session: AsyncSession, run: WorkflowRun) -> RunDetail:
    run, nodes = await repository.with_run(
        session, run, lambda: repository.node_runs(session, run.id)
    )
    detail = RunDetail.model_validate(run)
    detail.nodes = [NodeRunRead.model_validate(node) for node in nodes]
    detail.pending_approvals = _pending(detail.nodes)
    return detail


def from_saved(
    inserted: dict[str, Any], run_values: dict[str, Any], node_values: dict[str, dict[str, Any]]
) -> RunDetail:
    """The same answer as `run_detail` over the rows these values were committed to: the run
    row as inserted and then updated, and the node rows in the order `node_runs` lists them."""
    detail = RunDetail.model_validate({**inserted, **run_values})
    rows = sorted(node_values.values(), key=lambda row: (row["created_at"], row["node_id"]))
    detail.nodes = [NodeRunRead.model_validate(row) for row in rows]
    detail.pending_approvals = _pending(detail.nodes)
    return detail
