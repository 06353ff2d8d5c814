from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class McpServer(IdMixin, TimestampMixin, Base):
    """An MCP server a user registered: reached over streamable HTTP, or (admins only) started
    as a local process speaking stdio."""

    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(32), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # http | stdio
    transport: Mapped[str] = mapped_column(String(16), nullable=False)
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # Header values as one Fernet token of a JSON object; the names alone are kept in the clear
    # so reads never decrypt.
    headers_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    header_names: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    command: Mapped[str | None] = mapped_column(String(500), nullable=True)
    args: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    timeout_s: Mapped[float] = mapped_column(Float, nullable=False, default=60.0)
    # The last listing: [{"name", "description", "input_schema"}].
    tools: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
