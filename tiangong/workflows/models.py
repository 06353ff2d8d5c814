"""Workflows, their version snapshots, runs, and node runs (the runs' checkpoints)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class Workflow(IdMixin, TimestampMixin, Base):
    __tablename__ = "workflows"

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # {"nodes": [...], "edges": [...]} as `runtime.workflow.WorkflowDefinition`.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # draft | active | archived
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")


class WorkflowVersion(IdMixin, TimestampMixin, Base):
    """A frozen copy of a workflow at each version; runs execute a version, not the live row."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version"),)

    workflow_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False, index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # {"name", "description", "definition"}
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(36), nullable=True)


class WorkflowRun(IdMixin, TimestampMixin, Base):
    __tablename__ = "workflow_runs"
    __table_args__ = (UniqueConstraint("owner_id", "idempotency_key"),)

    workflow_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False, index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # queued | running | paused | succeeded | failed | cancelled
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued", index=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # api | webhook | schedule | batch | sub_workflow | rerun
    trigger: Mapped[str] = mapped_column(String(16), nullable=False, default="api")
    # A sub-workflow run points at the run and node that started it (the call chain).
    parent_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    parent_node_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Set by POST /executions/{id}/pause; the worker stops between nodes and marks it paused.
    pause_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Edited node inputs for a re-run from a failed node: {node_id: {config field: value}}.
    overrides: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # How many times startup recovery picked the run up after its worker went away.
    recoveries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WorkflowNodeRun(IdMixin, TimestampMixin, Base):
    """One node of one run, as the engine last recorded it: this table is the checkpoint."""

    __tablename__ = "workflow_node_runs"
    __table_args__ = (UniqueConstraint("run_id", "node_id"),)

    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    node_type: Mapped[str] = mapped_column(String(64), nullable=False)
    # running | waiting | succeeded | failed | skipped
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    branch: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    handling: Mapped[str | None] = mapped_column(String(16), nullable=True)
    approval_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # What the node wrote while it ran (code stdout, tool traces), for /execution-logs.
    logs: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
