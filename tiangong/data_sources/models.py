"""Tables of the data sources and uploads module."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class DataSource(IdMixin, TimestampMixin, Base):
    """A connection a user saved: where it is (`config`) and how to log in (`secret`)."""

    __tablename__ = "data_sources"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    # Everything but secrets: host, port, database, username, url, upload_id...
    config: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # Fernet token over a JSON object of the secrets (password, headers...), or None.
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Which secrets are set, so reading a source never decrypts anything.
    secret_fields: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    last_tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Upload(IdMixin, TimestampMixin, Base):
    """A file in its owner's workspace, at workspaces/<owner>/uploads/<id>/<name>."""

    __tablename__ = "uploads"

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
