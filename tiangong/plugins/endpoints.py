"""/plugins: the caller's plugins, the market, publishing, installing and the enable switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from tiangong.auth.deps import CurrentUser
from tiangong.db.session import SessionDep
from tiangong.plugins import service
from tiangong.plugins.schemas import (
    InstallationUpdate,
    InstallRequest,
    ListScope,
    PluginCreate,
    PluginList,
    PluginRead,
    PluginUpdate,
    PublishRequest,
)

router = APIRouter(prefix="/plugins", tags=["plugins"])

Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]
Search = Annotated[str | None, Query(max_length=100)]


@router.get("", response_model=PluginList)
async def list_plugins(
    session: SessionDep,
    user: CurrentUser,
    scope: Annotated[ListScope, Query()] = "own",
    q: Search = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> PluginList:
    """scope=own: the plugins you wrote; scope=installed: the plugins you installed."""
    return await service.list_plugins(
        session, user, scope=scope, search=q, page=page, page_size=page_size
    )


@router.post("", response_model=PluginRead, status_code=201)
async def create_plugin(data: PluginCreate, session: SessionDep, user: CurrentUser) -> PluginRead:
    """A new, unpublished plugin; install it yourself to try its tools."""
    return await service.create(session, user, data)


# Before "/{plugin_id}", which would take "market" as an id.
@router.get("/market", response_model=PluginList)
async def plugin_market(
    session: SessionDep,
    user: CurrentUser,
    q: Search = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> PluginList:
    """Published plugins of every user, most installed first."""
    return await service.market(session, user, search=q, page=page, page_size=page_size)


@router.get("/{plugin_id}", response_model=PluginRead)
async def get_plugin(plugin_id: str, session: SessionDep, user: CurrentUser) -> PluginRead:
    return await service.get(session, user, plugin_id)


@router.put("/{plugin_id}", response_model=PluginRead)
async def update_plugin(
    plugin_id: str, data: PluginUpdate, session: SessionDep, user: CurrentUser
) -> PluginRead:
    return await service.update(session, user, plugin_id, data)


@router.delete("/{plugin_id}", status_code=204)
async def delete_plugin(plugin_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Deletes it for everyone, installations included."""
    await service.delete(session, user, plugin_id)
    return Response(status_code=204)


@router.post("/{plugin_id}/publish", response_model=PluginRead)
async def publish_plugin(
    plugin_id: str, data: PublishRequest, session: SessionDep, user: CurrentUser
) -> PluginRead:
    """published=true lists it in the market; false takes it off (installations stay)."""
    return await service.publish(session, user, plugin_id, data.published)


@router.post("/{plugin_id}/install", response_model=PluginRead, status_code=201)
async def install_plugin(
    plugin_id: str,
    session: SessionDep,
    user: CurrentUser,
    data: Annotated[InstallRequest | None, Body()] = None,
) -> PluginRead:
    """Its tools become yours as plugin__<plugin>__<tool>, enabled at once."""
    return await service.install(session, user, plugin_id, data or InstallRequest())


@router.patch("/{plugin_id}/install", response_model=PluginRead)
async def update_installation(
    plugin_id: str, data: InstallationUpdate, session: SessionDep, user: CurrentUser
) -> PluginRead:
    """The switch (enabled=false hides its tools) and your credential for its tools."""
    return await service.update_installation(session, user, plugin_id, data)


@router.delete("/{plugin_id}/install", status_code=204)
async def uninstall_plugin(plugin_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await service.uninstall(session, user, plugin_id)
    return Response(status_code=204)
