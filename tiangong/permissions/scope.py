"""Grant lookups other modules' queries embed (agents use these to let grantees in)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.permissions.models import ResourceGrant

# An edit grant includes view.
_LEVELS = {"view": ("view", "edit"), "edit": ("edit",)}


def granted_ids(user_id: str, resource_type: str, needed: Literal["view", "edit"]) -> Select[str]:
    """Ids of the resources of this type granted to the user at `needed` or stronger."""
    return select(ResourceGrant.resource_id).where(
        ResourceGrant.user_id == user_id,
        ResourceGrant.resource_type == resource_type,
        ResourceGrant.permission.in_(_LEVELS[needed]),
    )


async def levels(
    session: AsyncSession, user_id: str, resource_type: str, ids: Iterable[str]
) -> dict[str, str]:
    """resource id -> the permission granted to the user, for those of `ids` shared with them."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(ResourceGrant.resource_id, ResourceGrant.permission).where(
            ResourceGrant.user_id == user_id,
            ResourceGrant.resource_type == resource_type,
            ResourceGrant.resource_id.in_(wanted),
        )
    )
    return {resource_id: permission for resource_id, permission in rows.tuples()}
