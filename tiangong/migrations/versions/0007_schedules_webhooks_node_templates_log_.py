"""schedules webhooks node templates log retention

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 14:27:32.453469
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tiangong.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_schedules",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("cron", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", tiangong.db.base.UTCDateTime(), nullable=True),
        sa.Column("last_run_at", tiangong.db.base.UTCDateTime(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_agent_schedules_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_schedules")),
    )
    with op.batch_alter_table("agent_schedules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_schedules_next_run_at"), ["next_run_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agent_schedules_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_agent_schedules_target_id"), ["target_id"], unique=False
        )

    op.create_table(
        "log_retention_policies",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_log_retention_policies_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_retention_policies")),
        sa.UniqueConstraint("owner_id", name=op.f("uq_log_retention_policies_owner_id")),
    )
    op.create_table(
        "node_templates",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("node_type", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_node_templates_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_templates")),
    )
    with op.batch_alter_table("node_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_node_templates_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "schedule_runs",
        sa.Column("schedule_id", sa.String(length=36), nullable=False),
        sa.Column("due_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False, server_default="api"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result_id", sa.String(length=36), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("started_at", tiangong.db.base.UTCDateTime(), nullable=True),
        sa.Column("finished_at", tiangong.db.base.UTCDateTime(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["agent_schedules.id"],
            name=op.f("fk_schedule_runs_schedule_id_agent_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_runs")),
        sa.UniqueConstraint(
            "schedule_id", "due_at", name=op.f("uq_schedule_runs_schedule_id_due_at")
        ),
    )
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schedule_runs_schedule_id"), ["schedule_id"], unique=False
        )

    op.create_table(
        "workflow_webhooks",
        sa.Column("workflow_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_triggered_at", tiangong.db.base.UTCDateTime(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_workflow_webhooks_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_webhooks_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_webhooks")),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_workflow_webhooks_workflow_id")),
    )
    with op.batch_alter_table("workflow_webhooks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workflow_webhooks_owner_id"), ["owner_id"], unique=False
        )

    with op.batch_alter_table("workflow_node_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("logs", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("duration_ms", sa.Float(), nullable=True))

    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trigger", sa.String(length=16), nullable=False, server_default="api")
        )
        batch_op.add_column(sa.Column("parent_run_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("parent_node_id", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("pause_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("overrides", sa.JSON(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_workflow_runs_parent_run_id"), ["parent_run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_runs_parent_run_id"))
        batch_op.drop_column("overrides")
        batch_op.drop_column("pause_requested")
        batch_op.drop_column("parent_node_id")
        batch_op.drop_column("parent_run_id")
        batch_op.drop_column("trigger")
    with op.batch_alter_table("workflow_node_runs", schema=None) as batch_op:
        batch_op.drop_column("duration_ms")
        batch_op.drop_column("logs")
    op.drop_table("workflow_webhooks")
    op.drop_table("schedule_runs")
    op.drop_table("node_templates")
    op.drop_table("log_retention_policies")
    op.drop_table("agent_schedules")
