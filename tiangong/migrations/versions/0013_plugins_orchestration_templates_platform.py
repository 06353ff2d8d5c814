"""plugins orchestration templates platform

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import tiangong.db.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tiangong.db.base.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "plugins",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("icon", sa.String(length=500), nullable=False),
        sa.Column("tools", sa.JSON(), nullable=False),
        sa.Column("is_published", sa.Boolean(), nullable=False),
        sa.Column("published_at", tiangong.db.base.UTCDateTime(), nullable=True),
        sa.Column("install_count", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_plugins_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugins")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_plugins_owner_id_name")),
    )
    with op.batch_alter_table("plugins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plugins_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plugins_is_published"), ["is_published"], unique=False)

    op.create_table(
        "plugin_installations",
        sa.Column("plugin_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("secret_hint", sa.String(length=16), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["plugin_id"],
            ["plugins.id"],
            name=op.f("fk_plugin_installations_plugin_id_plugins"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_plugin_installations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_installations")),
        sa.UniqueConstraint(
            "plugin_id", "user_id", name=op.f("uq_plugin_installations_plugin_id_user_id")
        ),
    )
    with op.batch_alter_table("plugin_installations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plugin_installations_plugin_id"), ["plugin_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_plugin_installations_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "orchestration_templates",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("role_order", sa.JSON(), nullable=False),
        sa.Column("edges", sa.JSON(), nullable=False),
        sa.Column("coordinator", sa.String(length=50), nullable=True),
        sa.Column("max_rounds", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_orchestration_templates_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestration_templates")),
    )
    with op.batch_alter_table("orchestration_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orchestration_templates_owner_id"), ["owner_id"], unique=False
        )


def downgrade() -> None:
    # Dropping a table drops its indexes; dropping an index first fails on MySQL (an FK needs it).
    op.drop_table("orchestration_templates")
    op.drop_table("plugin_installations")
    op.drop_table("plugins")
