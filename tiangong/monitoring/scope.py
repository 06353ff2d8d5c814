"""Whose rows a monitoring request reads: the caller's own, or (administrators only) everyone's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, true

from tiangong.auth.deps import CurrentUser
from tiangong.errors import Forbidden

ScopeName = Literal["own", "all"]


@dataclass(frozen=True, slots=True)
class Scope:
    # None: every user's rows (an administrator asked for scope=all).
    user_id: str | None

    @property
    def name(self) -> ScopeName:
        return "all" if self.user_id is None else "own"

    def owns(self, column: Any) -> ColumnElement[bool]:
        """The filter on a table's owner (or user) column."""
        return true() if self.user_id is None else column == self.user_id


async def resolve_scope(
    user: CurrentUser,
    scope: Annotated[
        ScopeName, Query(description="own: the caller's rows; all: every user's (admins only)")
    ] = "own",
) -> Scope:
    if scope == "own":
        return Scope(user.id)
    if not user.is_admin:
        raise Forbidden("Only administrators may read every user's data", code="ADMIN_REQUIRED")
    return Scope(None)


ScopeDep = Annotated[Scope, Depends(resolve_scope)]
