"""Tables of the goals and tasks module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class Goal(IdMixin, TimestampMixin, Base):
    __tablename__ = "goals"

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The agent that plans and executes; without one, the owner's default model does.
    agent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # draft -> running <-> paused -> completed | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft", index=True)
    # [{"role": "user"|"assistant", "content": ..., "at": iso time}], newest last, capped.
    interactions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # The handle of the latest execute-async request; set while the goal runs in the background.
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Who executes the run now (one job at a time) and when it last said so; a stale heartbeat
    # means its worker died and a redelivered job may take over.
    run_lease: Mapped[str | None] = mapped_column(String(36), nullable=True)
    run_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    run_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class GoalTask(IdMixin, TimestampMixin, Base):
    __tablename__ = "goal_tasks"

    goal_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("goals.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The goal's owner, copied so every query scopes by one indexed column.
    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    parent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("goal_tasks.id", ondelete="CASCADE"), nullable=True, index=True
    )
    agent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # pending, claimed, in_progress, awaiting_approval, completed, failed, cancelled
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", index=True)
    # Ids of tasks of the same goal that must be completed first (read and written whole).
    depends_on: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    requires_approval: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    order: Mapped[int] = mapped_column("sort_order", Integer, nullable=False, default=0)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The goal run lease that is executing it, so a takeover knows which work was orphaned.
    run_lease: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The conversation of its latest execution, to read the whole exchange.
    session_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
