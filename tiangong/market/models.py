"""Tables of the agent and template market module.

Both markets share these tables; `kind` ("agent" or "template") says which one a listing is in.
Rating and favourite figures are aggregated when read, so they are right whatever happens to
the rows (concurrent raters, deleted users); only the cumulative install count is stored, and it
is only ever changed by one atomic UPDATE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class MarketListing(IdMixin, TimestampMixin, Base):
    __tablename__ = "market_listings"
    # One listing per source agent or workflow; a new version re-publishes the same listing.
    __table_args__ = (UniqueConstraint("kind", "source_id"),)

    kind: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    author_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The author's agent or workflow it is published from. No foreign key: the listing (its
    # snapshots) outlives the source; a new version then needs a source again.
    source_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    summary: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    category: Mapped[str] = mapped_column(String(50), nullable=False, default="general")
    # For display; filtering by tag uses market_listing_tags.
    tags: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    # draft -> published <-> unpublished
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="published")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    install_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MarketListingTag(IdMixin, Base):
    __tablename__ = "market_listing_tags"
    __table_args__ = (UniqueConstraint("listing_id", "tag"),)

    listing_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("market_listings.id", ondelete="CASCADE"), nullable=False
    )
    tag: Mapped[str] = mapped_column(String(50), nullable=False, index=True)


class MarketListingVersion(IdMixin, TimestampMixin, Base):
    """The published definition at each version; installs and upgrades copy from here."""

    __tablename__ = "market_listing_versions"
    __table_args__ = (UniqueConstraint("listing_id", "version"),)

    listing_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("market_listings.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The source's version number when it was snapshotted.
    source_version: Mapped[int] = mapped_column(Integer, nullable=False)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    changelog: Mapped[str] = mapped_column(Text, nullable=False, default="")


class _PerUser:
    """A user's row about a listing (rating, favourite, install): one per user and listing."""

    listing_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("market_listings.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )


class MarketRating(_PerUser, IdMixin, TimestampMixin, Base):
    __tablename__ = "market_ratings"
    __table_args__ = (UniqueConstraint("listing_id", "user_id"),)

    score: Mapped[int] = mapped_column(Integer, nullable=False)
    review: Mapped[str] = mapped_column(Text, nullable=False, default="")


class MarketFavorite(_PerUser, IdMixin, TimestampMixin, Base):
    __tablename__ = "market_favorites"
    __table_args__ = (UniqueConstraint("listing_id", "user_id"),)


class MarketInstall(_PerUser, IdMixin, TimestampMixin, Base):
    """A user's copy of a listing: the agent or workflow it created, and at which version.

    One per user and listing. Deleting the installed agent or workflow deletes this row (the
    database cascades), so the user may install the listing again."""

    __tablename__ = "market_installs"
    __table_args__ = (UniqueConstraint("listing_id", "user_id"),)

    agent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("agents.id", ondelete="CASCADE"), nullable=True, index=True
    )
    workflow_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("workflows.id", ondelete="CASCADE"), nullable=True, index=True
    )
    listing_version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The installed copy's own version right after install or upgrade: a higher one later
    # means the user edited it since.
    target_version: Mapped[int] = mapped_column(Integer, nullable=False)
