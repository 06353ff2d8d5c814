"""Tables of the permissions module: custom roles, role assignments and resource grants."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin


class Role(IdMixin, TimestampMixin, Base):
    """A custom role. The built-in roles (admin, editor, viewer) live in code, not here, so
    they exist on every database from the first request and can never be changed."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    permissions: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)


class UserRole(IdMixin, TimestampMixin, Base):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role_id"),)

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # A custom role's id or a built-in role's name, so no foreign key; deleting a custom role
    # deletes its assignments in the same transaction.
    role_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    assigned_by: Mapped[str | None] = mapped_column(String(36), nullable=True)


class ResourceGrant(IdMixin, TimestampMixin, Base):
    """One user's access to another user's agent, workflow or knowledge base."""

    __tablename__ = "resource_grants"
    __table_args__ = (UniqueConstraint("resource_type", "resource_id", "user_id"),)

    resource_type: Mapped[str] = mapped_column(String(32), nullable=False)
    # Points at one of several tables, so no foreign key: each resource's delete removes its
    # grants (agents do it in agents.repository._CLEANUP).
    resource_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    permission: Mapped[str] = mapped_column(String(16), nullable=False)
    granted_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
