"""Plugin queries. A plugin is visible to its owner, to everyone while published, and to users
who installed it; installations are always the caller's own."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.plugins.models import Plugin, PluginInstallation


def _search(stmt: Select[Plugin], search: str | None) -> Select[Plugin]:
    if not search:
        return stmt
    return stmt.where(
        or_(
            Plugin.name.icontains(search, autoescape=True),
            Plugin.description.icontains(search, autoescape=True),
            Plugin.author.icontains(search, autoescape=True),
        )
    )


async def _page(
    session: AsyncSession, stmt: Select[Plugin], offset: int, limit: int
) -> tuple[list[Plugin], int]:
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(stmt.offset(offset).limit(limit))
    return list(rows.scalars()), int(total)


def _installed_by(user_id: str) -> ColumnElement[bool]:
    return exists().where(
        PluginInstallation.plugin_id == Plugin.id, PluginInstallation.user_id == user_id
    )


async def list_own(
    session: AsyncSession, user_id: str, *, search: str | None, offset: int, limit: int
) -> tuple[list[Plugin], int]:
    stmt = _search(select(Plugin).where(Plugin.owner_id == user_id), search)
    return await _page(session, stmt.order_by(Plugin.created_at.desc(), Plugin.id), offset, limit)


async def list_installed(
    session: AsyncSession, user_id: str, *, search: str | None, offset: int, limit: int
) -> tuple[list[Plugin], int]:
    stmt = _search(select(Plugin).where(_installed_by(user_id)), search)
    return await _page(session, stmt.order_by(Plugin.name, Plugin.id), offset, limit)


async def list_market(
    session: AsyncSession, *, search: str | None, offset: int, limit: int
) -> tuple[list[Plugin], int]:
    stmt = _search(select(Plugin).where(Plugin.is_published.is_(True)), search)
    order = (Plugin.install_count.desc(), Plugin.published_at.desc(), Plugin.id)
    return await _page(session, stmt.order_by(*order), offset, limit)


async def get_visible(session: AsyncSession, user_id: str, plugin_id: str) -> Plugin | None:
    stmt = select(Plugin).where(
        Plugin.id == plugin_id,
        or_(Plugin.owner_id == user_id, Plugin.is_published.is_(True), _installed_by(user_id)),
    )
    return (await session.execute(stmt)).scalars().first()


async def get_own(session: AsyncSession, user_id: str, plugin_id: str) -> Plugin | None:
    stmt = select(Plugin).where(Plugin.id == plugin_id, Plugin.owner_id == user_id)
    return (await session.execute(stmt)).scalars().first()


async def name_taken(
    session: AsyncSession, owner_id: str, name: str, exclude: str | None = None
) -> bool:
    stmt = select(Plugin.id).where(Plugin.owner_id == owner_id, Plugin.name == name)
    if exclude:
        stmt = stmt.where(Plugin.id != exclude)
    return (await session.execute(stmt)).first() is not None


async def installations(
    session: AsyncSession, user_id: str, plugin_ids: list[str]
) -> dict[str, PluginInstallation]:
    if not plugin_ids:
        return {}
    stmt = select(PluginInstallation).where(
        PluginInstallation.user_id == user_id, PluginInstallation.plugin_id.in_(plugin_ids)
    )
    return {row.plugin_id: row for row in (await session.execute(stmt)).scalars()}


async def installation(
    session: AsyncSession, user_id: str, plugin_id: str
) -> PluginInstallation | None:
    return (await installations(session, user_id, [plugin_id])).get(plugin_id)


async def installed(
    session: AsyncSession, user_id: str, *, enabled_only: bool
) -> list[tuple[Plugin, PluginInstallation]]:
    stmt = (
        select(Plugin, PluginInstallation)
        .join(PluginInstallation, PluginInstallation.plugin_id == Plugin.id)
        .where(PluginInstallation.user_id == user_id)
        .order_by(PluginInstallation.created_at, PluginInstallation.id)
    )
    if enabled_only:
        stmt = stmt.where(PluginInstallation.enabled.is_(True))
    return [(plugin, inst) for plugin, inst in (await session.execute(stmt)).tuples()]


async def installed_name_clash(
    session: AsyncSession, user_id: str, name: str, plugin_id: str
) -> bool:
    """Whether the user has installed another plugin of this name (tool names would clash)."""
    stmt = (
        select(Plugin.id)
        .join(PluginInstallation, PluginInstallation.plugin_id == Plugin.id)
        .where(PluginInstallation.user_id == user_id, Plugin.name == name, Plugin.id != plugin_id)
    )
    return (await session.execute(stmt)).first() is not None


async def has_other_installers(session: AsyncSession, plugin: Plugin) -> bool:
    stmt = select(PluginInstallation.id).where(
        PluginInstallation.plugin_id == plugin.id, PluginInstallation.user_id != plugin.owner_id
    )
    return (await session.execute(stmt)).first() is not None


async def add(session: AsyncSession, row: Plugin | PluginInstallation) -> None:
    session.add(row)
    await session.flush()


async def count_install(session: AsyncSession, plugin_id: str, step: int) -> None:
    # One UPDATE, so concurrent installs never lose a count.
    stmt = update(Plugin).where(Plugin.id == plugin_id)
    if step < 0:
        stmt = stmt.where(Plugin.install_count >= -step)
    await session.execute(
        stmt.values(install_count=Plugin.install_count + step).execution_options(
            synchronize_session=False
        )
    )


async def delete_plugin(session: AsyncSession, plugin: Plugin) -> None:
    # Installations go first on every database, whatever its foreign key settings.
    await session.execute(
        delete(PluginInstallation).where(PluginInstallation.plugin_id == plugin.id)
    )
    await session.delete(plugin)
    await session.flush()


async def delete_installation(session: AsyncSession, row: PluginInstallation) -> None:
    await session.delete(row)
    await session.flush()
