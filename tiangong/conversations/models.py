"""Conversations and messages: the record for agent chat, bare chat and SmartFlow chat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
MessageId = BigInteger().with_variant(Integer(), "sqlite")


class Conversation(IdMixin, TimestampMixin, Base):
    __tablename__ = "conversations"

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Deleting an agent unbinds its conversations; the user keeps their history.
    agent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # agent_chat | bare | smartflow | preview
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="agent_chat")
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    has_title: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    model_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    message_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Branches: a conversation forked from another at one of its messages.
    parent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    fork_message_id: Mapped[int | None] = mapped_column(MessageId, nullable=True)
    branch_name: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Message(TimestampMixin, Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(MessageId, primary_key=True, autoincrement=True)
    # Assigned before the row exists, so the cache can hold a message the database has not seen.
    uid: Mapped[str] = mapped_column(String(36), nullable=False, unique=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False, default="")
    reasoning_content: Mapped[str] = mapped_column(Text, nullable=False, default="")
    reasoning_duration_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # complete | streaming | incomplete | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="complete")
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    retry_group_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    retry_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    token_usage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    citations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
