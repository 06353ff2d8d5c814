"""agent and template market

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tiangong.db.base

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", tiangong.db.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", tiangong.db.base.UTCDateTime(), nullable=False),
    ]


def _listing_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["listing_id"],
        ["market_listings.id"],
        name=op.f(f"fk_{table}_listing_id_market_listings"),
        ondelete="CASCADE",
    )


def _per_user_table(
    table: str, *items: sa.Column[object] | sa.Constraint, indexed: tuple[str, ...] = ()
) -> None:
    """A user's rows about listings: one per user and listing, found by user too."""
    op.create_table(
        table,
        sa.Column("listing_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        *items,
        *_timestamps(),
        _listing_fk(table),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("listing_id", "user_id", name=op.f(f"uq_{table}_listing_id_user_id")),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in ("user_id", *indexed):
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column])


def upgrade() -> None:
    op.create_table(
        "market_listings",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("install_count", sa.Integer(), nullable=False),
        sa.Column("published_at", tiangong.db.base.UTCDateTime(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_market_listings_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_listings")),
        sa.UniqueConstraint("kind", "source_id", name=op.f("uq_market_listings_kind_source_id")),
    )
    with op.batch_alter_table("market_listings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_listings_author_id"), ["author_id"])
        batch_op.create_index(batch_op.f("ix_market_listings_kind"), ["kind"])

    op.create_table(
        "market_listing_tags",
        sa.Column("listing_id", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        _listing_fk("market_listing_tags"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_listing_tags")),
        sa.UniqueConstraint(
            "listing_id", "tag", name=op.f("uq_market_listing_tags_listing_id_tag")
        ),
    )
    with op.batch_alter_table("market_listing_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_listing_tags_tag"), ["tag"])

    op.create_table(
        "market_listing_versions",
        sa.Column("listing_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("changelog", sa.Text(), nullable=False),
        *_timestamps(),
        _listing_fk("market_listing_versions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_listing_versions")),
        sa.UniqueConstraint(
            "listing_id", "version", name=op.f("uq_market_listing_versions_listing_id_version")
        ),
    )

    _per_user_table(
        "market_ratings",
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("review", sa.Text(), nullable=False),
    )
    _per_user_table("market_favorites")
    _per_user_table(
        "market_installs",
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("workflow_id", sa.String(length=36), nullable=True),
        sa.Column("listing_version", sa.Integer(), nullable=False),
        sa.Column("target_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_market_installs_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_market_installs_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        indexed=("agent_id", "workflow_id"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; dropping an index first fails on MySQL (an FK needs it).
    for table in (
        "market_installs",
        "market_favorites",
        "market_ratings",
        "market_listing_versions",
        "market_listing_tags",
        "market_listings",
    ):
        op.drop_table(table)
