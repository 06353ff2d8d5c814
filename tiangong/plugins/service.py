"""Plugin rules: manifests, versions, publishing and installations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.errors import BadRequest, Conflict, NotFound
from tiangong.plugins import repository
from tiangong.plugins.catalog import qualified_name
from tiangong.plugins.models import Plugin, PluginInstallation
from tiangong.plugins.schemas import (
    InstallationRead,
    InstallationUpdate,
    InstallRequest,
    ListScope,
    PluginCreate,
    PluginList,
    PluginRead,
    PluginTool,
    PluginToolRead,
    PluginUpdate,
)
from tiangong.runtime.schemas import SchemaProblem, check_schema
from tiangong.security.crypto import encrypt, mask


def version_key(version: str) -> tuple[Any, ...]:
    """Semantic Versioning precedence: a release sorts after its pre-releases; numeric
    pre-release identifiers sort numerically and before alphanumeric ones."""
    core = version.split("+", 1)[0]
    main, _, pre = core.partition("-")
    numbers = tuple(int(part) for part in main.split("."))
    if not pre:
        return (numbers, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (numbers, 0, ids)


def _check_tools(tools: list[PluginTool]) -> None:
    for tool in tools:
        try:
            check_schema(tool.input_schema)
        except SchemaProblem as exc:
            raise BadRequest(
                f"tool '{tool.name}': input_schema is not a valid JSON schema: {exc}",
                code="INVALID_INPUT_SCHEMA",
            ) from None
        if tool.input_schema.get("type", "object") != "object":
            raise BadRequest(
                f"tool '{tool.name}': input_schema must describe an object",
                code="INVALID_INPUT_SCHEMA",
            )


def _installation_read(row: PluginInstallation) -> InstallationRead:
    return InstallationRead(
        id=row.id,
        enabled=row.enabled,
        secret_set=row.secret_encrypted is not None,
        secret_masked=row.secret_hint,
        installed_at=row.created_at,
        updated_at=row.updated_at,
    )


def _read(plugin: Plugin, user: User, installation: PluginInstallation | None) -> PluginRead:
    tools = [
        PluginToolRead(
            **PluginTool.model_validate(item).model_dump(),
            qualified_name=qualified_name(plugin.name, item["name"]),
        )
        for item in plugin.tools
    ]
    return PluginRead(
        id=plugin.id,
        owner_id=plugin.owner_id,
        name=plugin.name,
        version=plugin.version,
        description=plugin.description,
        author=plugin.author,
        icon=plugin.icon,
        tools=tools,
        is_published=plugin.is_published,
        published_at=plugin.published_at,
        install_count=plugin.install_count,
        is_owner=plugin.owner_id == user.id,
        installation=_installation_read(installation) if installation else None,
        created_at=plugin.created_at,
        updated_at=plugin.updated_at,
    )


async def _page(
    session: AsyncSession, user: User, rows: list[Plugin], total: int, page: int, page_size: int
) -> PluginList:
    mine = await repository.installations(session, user.id, [row.id for row in rows])
    items = [_read(row, user, mine.get(row.id)) for row in rows]
    return PluginList(items=items, total=total, page=page, page_size=page_size)


def _not_found() -> NotFound:
    return NotFound("Plugin not found", code="PLUGIN_NOT_FOUND")


async def _visible(session: AsyncSession, user: User, plugin_id: str) -> Plugin:
    row = await repository.get_visible(session, user.id, plugin_id)
    if row is None:
        raise _not_found()
    return row


async def _own(session: AsyncSession, user: User, plugin_id: str) -> Plugin:
    row = await repository.get_own(session, user.id, plugin_id)
    if row is None:
        raise _not_found()
    return row


async def _answer(session: AsyncSession, user: User, plugin: Plugin) -> PluginRead:
    await session.flush()
    await session.refresh(plugin)
    return _read(plugin, user, await repository.installation(session, user.id, plugin.id))


async def list_plugins(
    session: AsyncSession,
    user: User,
    *,
    scope: ListScope,
    search: str | None,
    page: int,
    page_size: int,
) -> PluginList:
    query = repository.list_own if scope == "own" else repository.list_installed
    rows, total = await query(
        session, user.id, search=search, offset=(page - 1) * page_size, limit=page_size
    )
    return await _page(session, user, rows, total, page, page_size)


async def market(
    session: AsyncSession, user: User, *, search: str | None, page: int, page_size: int
) -> PluginList:
    rows, total = await repository.list_market(
        session, search=search, offset=(page - 1) * page_size, limit=page_size
    )
    return await _page(session, user, rows, total, page, page_size)


async def create(session: AsyncSession, user: User, data: PluginCreate) -> PluginRead:
    _check_tools(data.tools)
    if await repository.name_taken(session, user.id, data.name):
        raise Conflict(f"You already have a plugin named '{data.name}'", code="PLUGIN_NAME_TAKEN")
    row = Plugin(
        owner_id=user.id,
        name=data.name,
        version=data.version,
        description=data.description,
        author=data.author if data.author is not None else user.nickname,
        icon=data.icon,
        tools=[tool.model_dump(mode="json") for tool in data.tools],
        is_published=False,
        install_count=0,
    )
    await repository.add(session, row)
    return await _answer(session, user, row)


async def get(session: AsyncSession, user: User, plugin_id: str) -> PluginRead:
    row = await _visible(session, user, plugin_id)
    return _read(row, user, await repository.installation(session, user.id, row.id))


async def update(
    session: AsyncSession, user: User, plugin_id: str, data: PluginUpdate
) -> PluginRead:
    row = await _own(session, user, plugin_id)
    changes = data.model_dump(mode="json", exclude_unset=True)
    if data.name is not None and data.name != row.name:
        if await repository.name_taken(session, user.id, data.name, row.id):
            raise Conflict(
                f"You already have a plugin named '{data.name}'", code="PLUGIN_NAME_TAKEN"
            )
        if await repository.has_other_installers(session, row):
            # Installers' agents list its tools by name; a rename would break them.
            raise Conflict("A plugin installed by others cannot be renamed", code="PLUGIN_IN_USE")
    if data.version is not None and data.version != row.version:
        if version_key(data.version) <= version_key(row.version):
            raise Conflict(
                f"version must be higher than {row.version}", code="PLUGIN_VERSION_NOT_INCREASED"
            )
    if data.tools is not None:
        _check_tools(data.tools)
        # Compared and stored whole, defaults included, as create stores them.
        changes["tools"] = [tool.model_dump(mode="json") for tool in data.tools]
        if changes["tools"] != row.tools and changes.get("version", row.version) == row.version:
            raise Conflict(
                "Changing the tools needs a new version", code="PLUGIN_VERSION_NOT_INCREASED"
            )
    for key, value in changes.items():
        setattr(row, key, value)
    return await _answer(session, user, row)


async def delete(session: AsyncSession, user: User, plugin_id: str) -> None:
    await repository.delete_plugin(session, await _own(session, user, plugin_id))


async def publish(session: AsyncSession, user: User, plugin_id: str, published: bool) -> PluginRead:
    """Unpublishing takes a plugin off the market; existing installations keep working."""
    row = await _own(session, user, plugin_id)
    if published != row.is_published:
        row.is_published = published
        row.published_at = datetime.now(UTC) if published else None
    return await _answer(session, user, row)


def _set_secret(row: PluginInstallation, secret: str | None) -> None:
    row.secret_encrypted = encrypt(secret) if secret else None
    row.secret_hint = mask(secret) if secret else None


async def install(
    session: AsyncSession, user: User, plugin_id: str, data: InstallRequest
) -> PluginRead:
    row = await _visible(session, user, plugin_id)
    if await repository.installation(session, user.id, row.id) is not None:
        raise Conflict("This plugin is already installed", code="PLUGIN_ALREADY_INSTALLED")
    if not row.is_published and row.owner_id != user.id:
        raise _not_found()
    if await repository.installed_name_clash(session, user.id, row.name, row.id):
        raise Conflict(
            f"Another plugin named '{row.name}' is installed; uninstall it first",
            code="PLUGIN_NAME_CLASH",
        )
    installation = PluginInstallation(plugin_id=row.id, user_id=user.id, enabled=True)
    _set_secret(installation, data.secret)
    await repository.add(session, installation)
    await repository.count_install(session, row.id, 1)
    return await _answer(session, user, row)


async def _installation(session: AsyncSession, user: User, plugin_id: str) -> PluginInstallation:
    found = await repository.installation(session, user.id, plugin_id)
    if found is None:
        raise NotFound("This plugin is not installed", code="PLUGIN_NOT_INSTALLED")
    return found


async def uninstall(session: AsyncSession, user: User, plugin_id: str) -> None:
    row = await _visible(session, user, plugin_id)
    await repository.delete_installation(session, await _installation(session, user, row.id))
    await repository.count_install(session, row.id, -1)


async def update_installation(
    session: AsyncSession, user: User, plugin_id: str, data: InstallationUpdate
) -> PluginRead:
    row = await _visible(session, user, plugin_id)
    installation = await _installation(session, user, row.id)
    if data.enabled is not None:
        installation.enabled = data.enabled
    if "secret" in data.model_fields_set:
        _set_secret(installation, data.secret)
    await session.flush()
    return await _answer(session, user, row)
