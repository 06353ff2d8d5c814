"""API schemas shared by both markets; the snapshot (`content`) is the one part that differs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

ListingKind = Literal["agent", "template"]
ListingStatus = Literal["draft", "published", "unpublished"]
ListingSort = Literal["newest", "updated", "installs", "rating", "favorites"]

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


# Order kept, repeats dropped: the tag table holds each tag once per listing.
Tags = Annotated[list[Tag], Field(max_length=20), AfterValidator(lambda v: list(dict.fromkeys(v)))]


class ListingMeta(BaseModel):
    """What the author says about a listing, as opposed to the snapshot it carries."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    summary: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=16_000)
    category: Category = "general"
    tags: Tags = Field(default_factory=list)


class ListingPublish(ListingMeta):
    """Publish one of the caller's agents (agent market) or workflows (template market).
    `name` defaults to the source's name; `draft` keeps it visible to the author only."""

    source_id: str = Field(min_length=1, max_length=36)
    status: Literal["draft", "published"] = "published"
    changelog: str = Field(default="", max_length=2_000)


class ListingUpdate(BaseModel):
    """Partial update of the metadata and status; the content changes only by a new version."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    summary: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=16_000)
    category: Category | None = None
    tags: Tags | None = None
    status: Literal["published", "unpublished"] | None = None


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changelog: str = Field(default="", max_length=2_000)


class InstallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None


class UpgradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Without it, an installed copy edited since install is not overwritten (409).
    force: bool = False


class RatingWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5)
    review: str = Field(default="", max_length=2_000)


class ListingRead(BaseModel):
    id: str
    kind: ListingKind
    author_id: str
    author_name: str
    source_id: str | None
    name: str
    summary: str
    description: str
    category: str
    tags: list[str]
    status: ListingStatus
    version: int
    install_count: int
    rating_average: float | None
    rating_count: int
    favorite_count: int
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class InstalledRef(BaseModel):
    target_id: str
    listing_version: int
    upgrade_available: bool


class ListingDetail(ListingRead):
    """A listing with its current content and what the caller did with it."""

    content: dict[str, Any]
    favorited: bool
    my_rating: int | None
    installed: InstalledRef | None


class ListingList(BaseModel):
    items: list[ListingRead]
    total: int
    page: int
    page_size: int


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    source_version: int
    changelog: str
    content: dict[str, Any] = Field(validation_alias="snapshot")
    created_at: datetime


class RatingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: str
    user_name: str
    score: int
    review: str
    created_at: datetime
    updated_at: datetime


class MyRating(RatingRead):
    """The caller's rating, with the listing's figures after it."""

    rating_average: float | None
    rating_count: int


class RatingList(BaseModel):
    items: list[RatingRead]
    total: int
    page: int
    page_size: int
    rating_average: float | None
    rating_count: int


class CategoryCount(BaseModel):
    category: str
    count: int


class InstallRead(BaseModel):
    listing_id: str
    listing_name: str
    # The agent (agent market) or workflow (template market) the install created.
    target_id: str
    listing_version: int
    latest_version: int | None
    upgrade_available: bool
    locally_modified: bool
    installed_at: datetime
    updated_at: datetime


class InstallList(BaseModel):
    items: list[InstallRead]
    total: int
    page: int
    page_size: int
