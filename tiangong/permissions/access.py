"""What access a user has to one agent, workflow or knowledge base: owner, admin, a grant, or
none. A resource the user has no access to is reported as not found, so ids cannot be probed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent
from tiangong.auth.models import User
from tiangong.errors import NotFound
from tiangong.knowledge.models import KnowledgeBase
from tiangong.permissions.catalog import Access
from tiangong.permissions.models import ResourceGrant
from tiangong.workflows.models import Workflow

MODELS: dict[str, type[Agent] | type[Workflow] | type[KnowledgeBase]] = {
    "agent": Agent,
    "workflow": Workflow,
    "knowledge_base": KnowledgeBase,
}


@dataclass(frozen=True)
class Resource:
    type: str
    id: str
    owner_id: str
    name: str


async def find_many(
    session: AsyncSession, resource_type: str, ids: Collection[str]
) -> dict[str, Resource]:
    if not ids:
        return {}
    model = MODELS[resource_type]
    rows = await session.execute(
        select(model.id, model.owner_id, model.name).where(model.id.in_(set(ids)))
    )
    return {
        row_id: Resource(type=resource_type, id=row_id, owner_id=owner_id, name=name)
        for row_id, owner_id, name in rows.tuples()
    }


async def find(session: AsyncSession, resource_type: str, resource_id: str) -> Resource | None:
    return (await find_many(session, resource_type, [resource_id])).get(resource_id)


async def grant_level(session: AsyncSession, user_id: str, resource: Resource) -> str | None:
    stmt = select(ResourceGrant.permission).where(
        ResourceGrant.resource_type == resource.type,
        ResourceGrant.resource_id == resource.id,
        ResourceGrant.user_id == user_id,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def access_of(session: AsyncSession, user: User, resource: Resource) -> Access | None:
    if resource.owner_id == user.id:
        return "owner"
    if user.is_admin:
        return "admin"
    level = await grant_level(session, user.id, resource)
    return "edit" if level == "edit" else "view" if level == "view" else None


def not_found(resource_type: str) -> NotFound:
    return NotFound(
        f"{resource_type.replace('_', ' ').capitalize()} not found",
        code=f"{resource_type.upper()}_NOT_FOUND",
    )


async def reachable(
    session: AsyncSession, user: User, resource_type: str, resource_id: str
) -> tuple[Resource, Access]:
    """The resource and the caller's access to it; NotFound when the caller has none."""
    resource = await find(session, resource_type, resource_id)
    access = None if resource is None else await access_of(session, user, resource)
    if resource is None or access is None:
        raise not_found(resource_type)
    return resource, access
