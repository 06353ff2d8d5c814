"""feishu and swarm

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tiangong.db.base

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tiangong.db.base.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "feishu_bindings",
        sa.Column("open_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approved_by", sa.String(length=36), nullable=True),
        sa.Column("approved_at", tiangong.db.base.UTCDateTime(), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_feishu_bindings_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_feishu_bindings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feishu_bindings")),
        sa.UniqueConstraint("open_id", name=op.f("uq_feishu_bindings_open_id")),
    )
    with op.batch_alter_table("feishu_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feishu_bindings_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_feishu_bindings_user_id"), ["user_id"], unique=False)

    op.create_table(
        "feishu_default_agents",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_feishu_default_agents_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_feishu_default_agents_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feishu_default_agents")),
        sa.UniqueConstraint("user_id", name=op.f("uq_feishu_default_agents_user_id")),
    )
    with op.batch_alter_table("feishu_default_agents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feishu_default_agents_agent_id"), ["agent_id"], unique=False
        )

    op.create_table(
        "feishu_events",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("open_id", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feishu_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_feishu_events_event_id")),
    )
    with op.batch_alter_table("feishu_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feishu_events_status"), ["status"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes; dropping an index first fails on MySQL (FKs need it).
    op.drop_table("feishu_events")
    op.drop_table("feishu_default_agents")
    op.drop_table("feishu_bindings")
