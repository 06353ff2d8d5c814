"""Tables of the feishu module: bindings, each user's default agent, and received events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class FeishuBinding(IdMixin, TimestampMixin, Base):
    """A Feishu open_id bound to one Tiangong user; `pending` until an admin approves."""

    __tablename__ = "feishu_bindings"

    # Unique: a Feishu account speaks for one user only, whatever the status.
    open_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # pending | active
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending", index=True)
    approved_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The conversation Feishu messages continue, so the agent remembers the chat.
    conversation_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True
    )


class FeishuDefaultAgent(IdMixin, TimestampMixin, Base):
    """The agent that answers a user's Feishu messages."""

    __tablename__ = "feishu_default_agents"

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    agent_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True
    )


class FeishuEvent(IdMixin, TimestampMixin, Base):
    """A received message event: the durable job the queue's id points at."""

    __tablename__ = "feishu_events"

    # Unique: a delivery Feishu retries is stored (and answered) once.
    event_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    open_id: Mapped[str] = mapped_column(String(64), nullable=False)
    chat_id: Mapped[str] = mapped_column(String(128), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # queued | running | done | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The answer, stored before it is sent: a send that fails (or a process that dies before
    # sending) is retried with it, so the agent never answers one message twice.
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
