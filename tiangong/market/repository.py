"""Every SQL statement of both markets.

Visibility is decided here: a published listing is visible to everyone, a draft or unpublished
one only to its author and to admins. Rating and favourite figures are aggregated in the query
that reads the listing, never stored, so concurrent ratings cannot make them drift."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from tiangong.agents.models import Agent
from tiangong.auth.models import User
from tiangong.market.models import (
    MarketFavorite,
    MarketInstall,
    MarketListing,
    MarketListingTag,
    MarketListingVersion,
    MarketRating,
)
from tiangong.workflows.models import Workflow


@dataclass(frozen=True)
class ListingRow:
    listing: MarketListing
    author_name: str
    rating_count: int
    rating_average: float | None
    favorite_count: int


def _visible(user: User, kind: str) -> ColumnElement[bool]:
    if user.is_admin:
        return MarketListing.kind == kind
    return and_(
        MarketListing.kind == kind,
        or_(MarketListing.status == "published", MarketListing.author_id == user.id),
    )


def _rating_stats() -> Any:
    return (
        select(
            MarketRating.listing_id,
            func.count().label("n"),
            func.avg(MarketRating.score).label("average"),
        )
        .group_by(MarketRating.listing_id)
        .subquery()
    )


def _favorite_stats() -> Any:
    return (
        select(MarketFavorite.listing_id, func.count().label("n"))
        .group_by(MarketFavorite.listing_id)
        .subquery()
    )


def _with_stats(where: ColumnElement[bool]) -> tuple[Select[Any], Any, Any]:
    ratings, favorites = _rating_stats(), _favorite_stats()
    stmt = (
        select(MarketListing, User.nickname, ratings.c.n, ratings.c.average, favorites.c.n)
        .join(User, User.id == MarketListing.author_id)
        .outerjoin(ratings, ratings.c.listing_id == MarketListing.id)
        .outerjoin(favorites, favorites.c.listing_id == MarketListing.id)
        .where(where)
    )
    return stmt, ratings, favorites


def _row(found: Any) -> ListingRow:
    listing, author, n_ratings, average, n_favorites = found
    return ListingRow(
        listing=listing,
        author_name=author,
        rating_count=int(n_ratings or 0),
        # AVG is a decimal on MySQL and PostgreSQL, a float on SQLite.
        rating_average=round(float(average), 2) if average is not None else None,
        favorite_count=int(n_favorites or 0),
    )


async def list_visible(
    session: AsyncSession,
    user: User,
    kind: str,
    *,
    search: str | None,
    category: str | None,
    tag: str | None,
    status: str | None,
    mine: bool,
    favorited: bool,
    sort: str,
    offset: int,
    limit: int,
) -> tuple[list[ListingRow], int]:
    where = [_visible(user, kind)]
    if search:
        where.append(
            or_(
                MarketListing.name.icontains(search, autoescape=True),
                MarketListing.summary.icontains(search, autoescape=True),
                MarketListing.description.icontains(search, autoescape=True),
            )
        )
    if category:
        where.append(MarketListing.category == category)
    if tag:
        where.append(
            exists().where(
                MarketListingTag.listing_id == MarketListing.id, MarketListingTag.tag == tag
            )
        )
    if status:
        where.append(MarketListing.status == status)
    if mine:
        where.append(MarketListing.author_id == user.id)
    if favorited:
        where.append(
            exists().where(
                MarketFavorite.listing_id == MarketListing.id, MarketFavorite.user_id == user.id
            )
        )
    condition = and_(true(), *where)
    total = (
        await session.execute(select(func.count()).select_from(MarketListing).where(condition))
    ).scalar_one()
    stmt, ratings, favorites = _with_stats(condition)
    orders: dict[str, list[Any]] = {
        "newest": [func.coalesce(MarketListing.published_at, MarketListing.created_at).desc()],
        "updated": [MarketListing.updated_at.desc()],
        "installs": [MarketListing.install_count.desc()],
        "rating": [
            func.coalesce(ratings.c.average, 0).desc(),
            func.coalesce(ratings.c.n, 0).desc(),
        ],
        "favorites": [func.coalesce(favorites.c.n, 0).desc()],
    }
    rows = await session.execute(
        stmt.order_by(*orders[sort], MarketListing.created_at.desc(), MarketListing.id)
        .offset(offset)
        .limit(limit)
    )
    return [_row(found) for found in rows], int(total)


async def get_visible(
    session: AsyncSession, user: User, kind: str, listing_id: str
) -> ListingRow | None:
    stmt, _, _ = _with_stats(and_(_visible(user, kind), MarketListing.id == listing_id))
    found = (await session.execute(stmt.execution_options(populate_existing=True))).first()
    return _row(found) if found is not None else None


async def by_source(session: AsyncSession, kind: str, source_id: str) -> MarketListing | None:
    stmt = select(MarketListing).where(
        MarketListing.kind == kind, MarketListing.source_id == source_id
    )
    return (await session.execute(stmt)).scalars().first()


async def categories(session: AsyncSession, kind: str) -> list[tuple[str, int]]:
    """Categories of published listings, most used first."""
    count = func.count().label("n")
    stmt = (
        select(MarketListing.category, count)
        .where(MarketListing.kind == kind, MarketListing.status == "published")
        .group_by(MarketListing.category)
        .order_by(count.desc(), MarketListing.category)
    )
    return [(category, int(n)) for category, n in await session.execute(stmt)]


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def insert_once(session: AsyncSession, row: object) -> bool:
    """Insert a row guarded by a unique constraint; False if it already exists (also when a
    concurrent request inserted it first), without spoiling the rest of the transaction."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


async def set_tags(session: AsyncSession, listing: MarketListing, tags: list[str]) -> None:
    listing.tags = tags
    await session.execute(delete(MarketListingTag).where(MarketListingTag.listing_id == listing.id))
    session.add_all(MarketListingTag(listing_id=listing.id, tag=tag) for tag in tags)
    await session.flush()


async def delete_listing(session: AsyncSession, listing_id: str) -> None:
    """Everything that hangs off the listing, then the listing; installed copies stay."""
    for table in (
        MarketListingTag,
        MarketListingVersion,
        MarketRating,
        MarketFavorite,
        MarketInstall,
    ):
        await session.execute(delete(table).where(table.listing_id == listing_id))
    await session.execute(delete(MarketListing).where(MarketListing.id == listing_id))
    await session.flush()


async def count_install(session: AsyncSession, listing_id: str) -> None:
    """One atomic increment, so concurrent installs all count; updated_at is left alone."""
    await session.execute(
        update(MarketListing)
        .where(MarketListing.id == listing_id)
        .values(install_count=MarketListing.install_count + 1, updated_at=MarketListing.updated_at)
    )


async def versions(session: AsyncSession, listing_id: str) -> list[MarketListingVersion]:
    stmt = (
        select(MarketListingVersion)
        .where(MarketListingVersion.listing_id == listing_id)
        .order_by(MarketListingVersion.version.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def version(session: AsyncSession, listing_id: str, number: int) -> MarketListingVersion:
    stmt = select(MarketListingVersion).where(
        MarketListingVersion.listing_id == listing_id, MarketListingVersion.version == number
    )
    return (await session.execute(stmt)).scalars().one()


async def rating_of(session: AsyncSession, listing_id: str, user_id: str) -> MarketRating | None:
    stmt = (
        select(MarketRating)
        .where(MarketRating.listing_id == listing_id, MarketRating.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalars().first()


async def update_rating(
    session: AsyncSession, listing_id: str, user_id: str, score: int, review: str
) -> None:
    await session.execute(
        update(MarketRating)
        .where(MarketRating.listing_id == listing_id, MarketRating.user_id == user_id)
        .values(score=score, review=review)
    )


async def ratings(
    session: AsyncSession, listing_id: str, *, offset: int, limit: int
) -> tuple[list[tuple[MarketRating, str]], int]:
    where = MarketRating.listing_id == listing_id
    total = (
        await session.execute(select(func.count()).select_from(MarketRating).where(where))
    ).scalar_one()
    stmt = (
        select(MarketRating, User.nickname)
        .join(User, User.id == MarketRating.user_id)
        .where(where)
        .order_by(MarketRating.updated_at.desc(), MarketRating.id)
        .offset(offset)
        .limit(limit)
    )
    return [(rating, name) for rating, name in await session.execute(stmt)], int(total)


async def is_favorite(session: AsyncSession, listing_id: str, user_id: str) -> bool:
    stmt = select(MarketFavorite.id).where(
        MarketFavorite.listing_id == listing_id, MarketFavorite.user_id == user_id
    )
    return (await session.execute(stmt)).first() is not None


async def remove_favorite(session: AsyncSession, listing_id: str, user_id: str) -> None:
    await session.execute(
        delete(MarketFavorite).where(
            MarketFavorite.listing_id == listing_id, MarketFavorite.user_id == user_id
        )
    )


async def install_of(session: AsyncSession, listing_id: str, user_id: str) -> MarketInstall | None:
    stmt = select(MarketInstall).where(
        MarketInstall.listing_id == listing_id, MarketInstall.user_id == user_id
    )
    return (await session.execute(stmt)).scalars().first()


async def installs(
    session: AsyncSession,
    user: User,
    kind: str,
    target: type[Agent] | type[Workflow],
    target_id: InstrumentedAttribute[str | None],
    *,
    offset: int,
    limit: int,
) -> tuple[list[tuple[MarketInstall, MarketListing, bool, int]], int]:
    """The caller's installs with their listing, whether it is still visible to them, and the
    installed copy's current version (`target` is the agent or workflow `target_id` names)."""
    where = and_(MarketInstall.user_id == user.id, MarketListing.kind == kind)
    base = select(MarketInstall).join(MarketListing, MarketListing.id == MarketInstall.listing_id)
    total = (
        await session.execute(select(func.count()).select_from(base.where(where).subquery()))
    ).scalar_one()
    visible = _visible(user, kind).label("visible")
    stmt = (
        select(MarketInstall, MarketListing, visible, target.version)
        .join(MarketListing, MarketListing.id == MarketInstall.listing_id)
        .join(target, target.id == target_id)
        .where(where)
        .order_by(MarketInstall.created_at.desc(), MarketInstall.id)
        .offset(offset)
        .limit(limit)
    )
    rows = await session.execute(stmt)
    return [(i, listing, bool(seen), int(v)) for i, listing, seen, v in rows], int(total)
