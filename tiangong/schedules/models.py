"""Cron schedules for agents and workflows, and one row per firing (the exactly-once record)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class AgentSchedule(IdMixin, TimestampMixin, Base):
    __tablename__ = "agent_schedules"

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # agent | workflow; target_id is not a foreign key because it points at either table.
    target_type: Mapped[str] = mapped_column(String(16), nullable=False)
    target_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    cron: Mapped[str] = mapped_column(String(100), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    # agent: {"message": ...}; workflow: {"inputs": {...}}
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ScheduleRun(IdMixin, TimestampMixin, Base):
    """One firing. The unique (schedule_id, due_at) is what makes a due time run exactly once
    when several processes race for it: only one INSERT wins."""

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "due_at"),)

    schedule_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("agent_schedules.id", ondelete="CASCADE"), nullable=False, index=True
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # cron | manual
    trigger: Mapped[str] = mapped_column(String(16), nullable=False, default="cron")
    # running | succeeded | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="running")
    # The workflow run id, or the conversation id of the agent turn.
    result_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
