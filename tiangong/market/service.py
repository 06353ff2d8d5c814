"""Business rules both markets share. A `Market` says what a listing is published from and how
an install makes the caller's own copy; everything else (visibility, versions, ratings,
favourites, install records) is the same for agents and workflow templates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from tiangong.agents.models import Agent
from tiangong.auth.models import User
from tiangong.db.base import utcnow
from tiangong.errors import Conflict, Forbidden, NotFound
from tiangong.market import repository
from tiangong.market.models import (
    MarketFavorite,
    MarketInstall,
    MarketListing,
    MarketListingVersion,
    MarketRating,
)
from tiangong.market.repository import ListingRow
from tiangong.market.schemas import (
    CategoryCount,
    InstalledRef,
    InstallList,
    InstallRead,
    ListingDetail,
    ListingList,
    ListingPublish,
    ListingRead,
    ListingUpdate,
    MyRating,
    RatingList,
    RatingRead,
    RatingWrite,
    VersionRead,
)
from tiangong.workflows.models import Workflow

T = TypeVar("T", bound=BaseModel)
# (from, to) status changes an update may make; a draft is published once, never unpublished.
_TRANSITIONS = {("draft", "published"), ("published", "unpublished"), ("unpublished", "published")}


@dataclass(frozen=True)
class Source:
    """What a listing is published from: the author's agent or workflow at its current version."""

    id: str
    name: str
    version: int
    snapshot: dict[str, Any]


@dataclass(frozen=True)
class Copy(Generic[T]):
    """The caller's new agent or workflow made by an install."""

    id: str
    version: int
    read: T


@dataclass(frozen=True)
class Market(Generic[T]):
    kind: str
    # The author's own source, or NotFound; the snapshot holds nothing private to the author.
    load_source: Callable[[AsyncSession, User, str], Awaitable[Source]]
    # A new agent or workflow owned by the caller, from a snapshot and an optional name.
    make_copy: Callable[[AsyncSession, User, dict[str, Any], str | None], Awaitable[Copy[T]]]
    target: type[Agent] | type[Workflow]
    target_id: InstrumentedAttribute[str | None]


def _not_found() -> NotFound:
    return NotFound("Listing not found", code="LISTING_NOT_FOUND")


def to_read(row: ListingRow) -> ListingRead:
    listing = row.listing
    return ListingRead(
        id=listing.id,
        kind=listing.kind,
        author_id=listing.author_id,
        author_name=row.author_name,
        source_id=listing.source_id,
        name=listing.name,
        summary=listing.summary,
        description=listing.description,
        category=listing.category,
        tags=listing.tags,
        status=listing.status,
        version=listing.version,
        install_count=listing.install_count,
        rating_average=row.rating_average,
        rating_count=row.rating_count,
        favorite_count=row.favorite_count,
        published_at=listing.published_at,
        created_at=listing.created_at,
        updated_at=listing.updated_at,
    )


async def visible(
    session: AsyncSession, user: User, market: Market[Any], listing_id: str
) -> ListingRow:
    row = await repository.get_visible(session, user, market.kind, listing_id)
    if row is None:
        raise _not_found()
    return row


async def _changeable(
    session: AsyncSession, user: User, market: Market[Any], listing_id: str
) -> MarketListing:
    """A listing the caller may change: the author's own, or any for an admin."""
    listing = (await visible(session, user, market, listing_id)).listing
    if listing.author_id != user.id and not user.is_admin:
        raise Forbidden(
            "Only the author or an admin may change this listing", code="NOT_LISTING_AUTHOR"
        )
    return listing


async def list_listings(
    session: AsyncSession,
    user: User,
    market: Market[Any],
    *,
    search: str | None,
    category: str | None,
    tag: str | None,
    status: str | None,
    mine: bool,
    favorited: bool,
    sort: str,
    page: int,
    page_size: int,
) -> ListingList:
    rows, total = await repository.list_visible(
        session,
        user,
        market.kind,
        search=search,
        category=category,
        tag=tag,
        status=status,
        mine=mine,
        favorited=favorited,
        sort=sort,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [to_read(row) for row in rows]
    return ListingList(items=items, total=total, page=page, page_size=page_size)


async def categories(session: AsyncSession, market: Market[Any]) -> list[CategoryCount]:
    found = await repository.categories(session, market.kind)
    return [CategoryCount(category=category, count=n) for category, n in found]


async def detail(
    session: AsyncSession, user: User, market: Market[Any], listing_id: str
) -> ListingDetail:
    row = await visible(session, user, market, listing_id)
    listing = row.listing
    current = await repository.version(session, listing.id, listing.version)
    rating = await repository.rating_of(session, listing.id, user.id)
    install = await repository.install_of(session, listing.id, user.id)
    installed = None
    if install is not None:
        installed = InstalledRef(
            target_id=_target_of(install),
            listing_version=install.listing_version,
            upgrade_available=install.listing_version < listing.version,
        )
    return ListingDetail(
        **to_read(row).model_dump(),
        content=current.snapshot,
        favorited=await repository.is_favorite(session, listing.id, user.id),
        my_rating=rating.score if rating is not None else None,
        installed=installed,
    )


def _target_of(install: MarketInstall) -> str:
    target = install.agent_id or install.workflow_id
    assert target is not None  # every install row names the copy it made
    return target


async def publish(
    session: AsyncSession, user: User, market: Market[Any], data: ListingPublish
) -> ListingDetail:
    source = await market.load_source(session, user, data.source_id)
    if await repository.by_source(session, market.kind, source.id) is not None:
        raise Conflict(
            "This source is already published; publish a new version of its listing instead",
            code="ALREADY_PUBLISHED",
        )
    listing = MarketListing(
        kind=market.kind,
        author_id=user.id,
        source_id=source.id,
        name=data.name or source.name,
        summary=data.summary,
        description=data.description,
        category=data.category,
        tags=data.tags,
        status=data.status,
        version=1,
        install_count=0,
        published_at=utcnow() if data.status == "published" else None,
    )
    await repository.add(session, listing)
    await repository.set_tags(session, listing, data.tags)
    await repository.add(session, _version_row(listing, source, data.changelog))
    return await detail(session, user, market, listing.id)


def _version_row(listing: MarketListing, source: Source, changelog: str) -> MarketListingVersion:
    return MarketListingVersion(
        listing_id=listing.id,
        version=listing.version,
        source_version=source.version,
        snapshot=source.snapshot,
        changelog=changelog,
    )


async def update(
    session: AsyncSession, user: User, market: Market[Any], listing_id: str, data: ListingUpdate
) -> ListingDetail:
    listing = await _changeable(session, user, market, listing_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    status = changes.pop("status", None)
    if status is not None and status != listing.status:
        if (listing.status, status) not in _TRANSITIONS:
            raise Conflict(
                f"Cannot change listing status from '{listing.status}' to '{status}'",
                code="INVALID_STATUS_TRANSITION",
            )
        listing.status = status
        if status == "published" and listing.published_at is None:
            listing.published_at = utcnow()
    tags = changes.pop("tags", None)
    for key, value in changes.items():
        setattr(listing, key, value)
    if tags is not None:
        await repository.set_tags(session, listing, tags)
    await session.flush()
    return await detail(session, user, market, listing.id)


async def delete(session: AsyncSession, user: User, market: Market[Any], listing_id: str) -> None:
    listing = await _changeable(session, user, market, listing_id)
    await repository.delete_listing(session, listing.id)


async def versions(
    session: AsyncSession, user: User, market: Market[Any], listing_id: str
) -> list[VersionRead]:
    listing = (await visible(session, user, market, listing_id)).listing
    return [
        VersionRead.model_validate(row) for row in await repository.versions(session, listing.id)
    ]


async def new_version(
    session: AsyncSession, user: User, market: Market[Any], listing_id: str, changelog: str
) -> VersionRead:
    """Snapshot the source again. Only the author can: the source is the author's."""
    listing = (await visible(session, user, market, listing_id)).listing
    if listing.author_id != user.id:
        raise Forbidden("Only the author may publish a new version", code="NOT_LISTING_AUTHOR")
    if listing.source_id is None:
        raise Conflict("The listing has no source to publish from", code="SOURCE_MISSING")
    source = await market.load_source(session, user, listing.source_id)
    current = await repository.version(session, listing.id, listing.version)
    if current.snapshot == source.snapshot:
        raise Conflict(
            "The source has not changed since the current version", code="VERSION_UNCHANGED"
        )
    listing.version += 1
    await session.flush()
    row = _version_row(listing, source, changelog)
    await repository.add(session, row)
    return VersionRead.model_validate(row)


async def install(
    session: AsyncSession, user: User, market: Market[T], listing_id: str, name: str | None
) -> tuple[InstallRead, T]:
    """A new agent or workflow of the caller's from the current version. Once per user and
    listing: a second install is a 409 naming the first copy (delete that copy to reinstall)."""
    listing = (await visible(session, user, market, listing_id)).listing
    found = await repository.install_of(session, listing.id, user.id)
    if found is not None:
        raise _already_installed(found)
    # The count first: its row lock makes concurrent installs of one listing take turns, where
    # on MySQL each install's foreign key check (a shared lock on the listing) followed by the
    # count's exclusive lock would deadlock.
    await repository.count_install(session, listing.id)
    current = await repository.version(session, listing.id, listing.version)
    made = await market.make_copy(session, user, current.snapshot, name)
    record = MarketInstall(
        listing_id=listing.id,
        user_id=user.id,
        listing_version=listing.version,
        target_version=made.version,
    )
    setattr(record, market.target_id.key, made.id)
    if not await repository.insert_once(session, record):
        # A concurrent install of the same listing by the same user won.
        raise _already_installed(None)
    return install_read(record, listing, True, made.version), made.read


def _already_installed(found: MarketInstall | None) -> Conflict:
    # None when a concurrent install won and its row is not visible to this transaction yet.
    target = _target_of(found) if found is not None else None
    copy = f"as {target}" if target else "by a concurrent request"
    return Conflict(
        f"Already installed {copy}; delete that copy to install again",
        code="ALREADY_INSTALLED",
        details={"target_id": target},
    )


def install_read(
    record: MarketInstall, listing: MarketListing, seen: bool, target_version: int
) -> InstallRead:
    return InstallRead(
        listing_id=listing.id,
        listing_name=listing.name,
        target_id=_target_of(record),
        listing_version=record.listing_version,
        latest_version=listing.version if seen else None,
        upgrade_available=seen and record.listing_version < listing.version,
        locally_modified=target_version != record.target_version,
        installed_at=record.created_at,
        updated_at=record.updated_at,
    )


async def installs(
    session: AsyncSession, user: User, market: Market[Any], *, page: int, page_size: int
) -> InstallList:
    rows, total = await repository.installs(
        session,
        user,
        market.kind,
        market.target,
        market.target_id,
        offset=(page - 1) * page_size,
        limit=page_size,
    )
    items = [install_read(record, listing, seen, v) for record, listing, seen, v in rows]
    return InstallList(items=items, total=total, page=page, page_size=page_size)


async def own_install(
    session: AsyncSession, user: User, market: Market[Any], listing_id: str
) -> tuple[MarketListing, MarketInstall]:
    listing = (await visible(session, user, market, listing_id)).listing
    record = await repository.install_of(session, listing.id, user.id)
    if record is None:
        raise NotFound("You have not installed this listing", code="NOT_INSTALLED")
    return listing, record


async def rate(
    session: AsyncSession, user: User, market: Market[Any], listing_id: str, data: RatingWrite
) -> MyRating:
    """One rating per user and listing; rating again replaces the score and review."""
    listing = (await visible(session, user, market, listing_id)).listing
    if listing.author_id == user.id:
        raise Forbidden("Authors cannot rate their own listing", code="CANNOT_RATE_OWN")
    # No locking read: the figures are aggregated when read, and a locking read of a missing
    # row takes a gap lock that deadlocks two first ratings on MySQL.
    if await repository.rating_of(session, listing.id, user.id) is None:
        new = MarketRating(
            listing_id=listing.id, user_id=user.id, score=data.score, review=data.review
        )
        # False when a concurrent first rating by the same user won; this one replaces it.
        inserted = await repository.insert_once(session, new)
    else:
        inserted = False
    if not inserted:
        await repository.update_rating(session, listing.id, user.id, data.score, data.review)
    row = await repository.rating_of(session, listing.id, user.id)
    assert row is not None
    stats = await visible(session, user, market, listing.id)
    return MyRating(
        **_rating_read(row, user.nickname).model_dump(),
        rating_average=stats.rating_average,
        rating_count=stats.rating_count,
    )


def _rating_read(row: MarketRating, name: str) -> RatingRead:
    return RatingRead(
        user_id=row.user_id,
        user_name=name,
        score=row.score,
        review=row.review,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def ratings(
    session: AsyncSession,
    user: User,
    market: Market[Any],
    listing_id: str,
    *,
    page: int,
    page_size: int,
) -> RatingList:
    row = await visible(session, user, market, listing_id)
    found, total = await repository.ratings(
        session, row.listing.id, offset=(page - 1) * page_size, limit=page_size
    )
    return RatingList(
        items=[_rating_read(rating, name) for rating, name in found],
        total=total,
        page=page,
        page_size=page_size,
        rating_average=row.rating_average,
        rating_count=row.rating_count,
    )


async def favorite(
    session: AsyncSession, user: User, market: Market[Any], listing_id: str, on: bool
) -> None:
    """Idempotent both ways: favouriting twice or removing a missing favourite is fine."""
    listing = (await visible(session, user, market, listing_id)).listing
    if on:
        await repository.insert_once(
            session, MarketFavorite(listing_id=listing.id, user_id=user.id)
        )
    else:
        await repository.remove_favorite(session, listing.id, user.id)
