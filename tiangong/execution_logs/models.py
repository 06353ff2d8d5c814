"""Per-owner log retention. The logs themselves are the run and node-run rows (workflows)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin


class LogRetentionPolicy(IdMixin, TimestampMixin, Base):
    """The owner's workspace policy: finished runs older than `retention_days` are deleted."""

    __tablename__ = "log_retention_policies"

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    retention_days: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
