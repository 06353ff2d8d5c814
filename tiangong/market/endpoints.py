"""The routes both markets share, built once per market; each market adds install (and the
agent market upgrade) in its own module, as their responses differ."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.market import service
from tiangong.market.schemas import (
    CategoryCount,
    InstallList,
    ListingDetail,
    ListingList,
    ListingPublish,
    ListingSort,
    ListingStatus,
    ListingUpdate,
    MyRating,
    RatingList,
    RatingWrite,
    VersionCreate,
    VersionRead,
)
from tiangong.market.service import Market

Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]


def market_router(prefix: str, tag: str, market: Market[Any]) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.get("", response_model=ListingList)
    async def list_listings(
        session: SessionDep,
        user: CurrentUser,
        page: Page = 1,
        page_size: PageSize = 20,
        q: Annotated[str | None, Query(max_length=100)] = None,
        category: Annotated[str | None, Query(max_length=50)] = None,
        tag: Annotated[str | None, Query(max_length=50)] = None,
        status: ListingStatus | None = None,
        mine: Annotated[bool, Query(description="only the caller's own listings")] = False,
        favorited: Annotated[bool, Query(description="only the caller's favourites")] = False,
        sort: ListingSort = "newest",
    ) -> ListingList:
        """Published listings, plus the caller's own drafts and unpublished ones."""
        return await service.list_listings(
            session,
            user,
            market,
            search=q,
            category=category,
            tag=tag,
            status=status,
            mine=mine,
            favorited=favorited,
            sort=sort,
            page=page,
            page_size=page_size,
        )

    # Fixed paths before /{listing_id}, which would otherwise take them as ids.
    @router.get("/categories", response_model=list[CategoryCount])
    async def list_categories(session: SessionDep, user: CurrentUser) -> list[CategoryCount]:
        """Categories of published listings with how many each holds."""
        return await service.categories(session, market)

    @router.get("/installed", response_model=InstallList)
    async def list_installed(
        session: SessionDep, user: CurrentUser, page: Page = 1, page_size: PageSize = 20
    ) -> InstallList:
        """The caller's installs, with whether an upgrade is available."""
        return await service.installs(session, user, market, page=page, page_size=page_size)

    @router.post("", response_model=ListingDetail, status_code=201)
    async def publish(
        data: ListingPublish, session: SessionDep, user: CurrentUser
    ) -> ListingDetail:
        return await service.publish(session, user, market, data)

    @router.get("/{listing_id}", response_model=ListingDetail)
    async def get_listing(listing_id: str, session: SessionDep, user: CurrentUser) -> ListingDetail:
        return await service.detail(session, user, market, listing_id)

    @router.put("/{listing_id}", response_model=ListingDetail)
    async def update_listing(
        listing_id: str, data: ListingUpdate, session: SessionDep, user: CurrentUser
    ) -> ListingDetail:
        """Metadata and status (published/unpublished); author or admin."""
        return await service.update(session, user, market, listing_id, data)

    @router.delete("/{listing_id}", status_code=204)
    async def delete_listing(listing_id: str, session: SessionDep, user: CurrentUser) -> Response:
        """Author or admin. Installed copies stay with their owners."""
        await service.delete(session, user, market, listing_id)
        return Response(status_code=204)

    @router.get("/{listing_id}/versions", response_model=list[VersionRead])
    async def list_versions(
        listing_id: str, session: SessionDep, user: CurrentUser
    ) -> list[VersionRead]:
        """Newest first, each with its content."""
        return await service.versions(session, user, market, listing_id)

    @router.post("/{listing_id}/versions", response_model=VersionRead, status_code=201)
    async def publish_version(
        listing_id: str,
        session: SessionDep,
        user: CurrentUser,
        data: VersionCreate | None = None,
    ) -> VersionRead:
        """Snapshot the source again as the next version; the author only."""
        changelog = data.changelog if data is not None else ""
        return await service.new_version(session, user, market, listing_id, changelog)

    @router.get("/{listing_id}/ratings", response_model=RatingList)
    async def list_ratings(
        listing_id: str,
        session: SessionDep,
        user: CurrentUser,
        page: Page = 1,
        page_size: PageSize = 20,
    ) -> RatingList:
        return await service.ratings(
            session, user, market, listing_id, page=page, page_size=page_size
        )

    @router.put("/{listing_id}/rating", response_model=MyRating)
    async def rate(
        listing_id: str, data: RatingWrite, session: SessionDep, user: CurrentUser
    ) -> MyRating:
        """The caller's 1-5 rating and review; rating again replaces it."""
        return await service.rate(session, user, market, listing_id, data)

    @router.put("/{listing_id}/favorite", status_code=204)
    async def add_favorite(listing_id: str, session: SessionDep, user: CurrentUser) -> Response:
        await service.favorite(session, user, market, listing_id, True)
        return Response(status_code=204)

    @router.delete("/{listing_id}/favorite", status_code=204)
    async def remove_favorite(listing_id: str, session: SessionDep, user: CurrentUser) -> Response:
        await service.favorite(session, user, market, listing_id, False)
        return Response(status_code=204)

    return router
