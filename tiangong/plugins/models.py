"""Tables of the plugins, orchestration templates and platform module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class Plugin(IdMixin, TimestampMixin, Base):
    """A versioned bundle of HTTP tools that its author may publish to the market."""

    __tablename__ = "plugins"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(32), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    author: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    icon: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    # The manifest's tool definitions, read and written whole.
    tools: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    is_published: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    install_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class PluginInstallation(IdMixin, TimestampMixin, Base):
    """A user's installation of a plugin: its switch and the user's own credential."""

    __tablename__ = "plugin_installations"
    __table_args__ = (UniqueConstraint("plugin_id", "user_id"),)

    plugin_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("plugins.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # The credential the plugin's authenticated tools send, Fernet-encrypted; shown as a mask.
    secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    secret_hint: Mapped[str | None] = mapped_column(String(16), nullable=True)


class OrchestrationTemplate(IdMixin, TimestampMixin, Base):
    """How several agents work together on one task."""

    __tablename__ = "orchestration_templates"

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    role_order: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    edges: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    coordinator: Mapped[str | None] = mapped_column(String(50), nullable=True)
    max_rounds: Mapped[int] = mapped_column(Integer, nullable=False, default=3)
