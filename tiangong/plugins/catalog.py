"""Installed plugins' tools as the tool catalogue and agents see them.

A tool is offered under `plugin__<plugin>__<tool>` while its installation is enabled. It runs
as an HttpTool, so its calls go through the SSRF-safe client like any custom HTTP tool, with
the installer's own credential.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.plugins import repository
from tiangong.plugins.models import Plugin, PluginInstallation
from tiangong.plugins.schemas import PluginTool
from tiangong.runtime.tools import Tool
from tiangong.runtime.tools.http_tool import HttpTool
from tiangong.security.crypto import decrypt
from tiangong.tools.schemas import ToolRead

PREFIX = "plugin__"
CATEGORY = "plugin"


def qualified_name(plugin_name: str, tool_name: str) -> str:
    return f"{PREFIX}{plugin_name}__{tool_name}"


def _tools(plugin: Plugin) -> list[PluginTool]:
    return [PluginTool.model_validate(item) for item in plugin.tools]


def _read(plugin: Plugin, installation: PluginInstallation, tool: PluginTool) -> ToolRead:
    return ToolRead(
        id=qualified_name(plugin.name, tool.name),
        name=qualified_name(plugin.name, tool.name),
        description=tool.description,
        category=CATEGORY,
        kind="plugin",
        requires_approval=tool.requires_approval,
        input_schema=tool.input_schema,
        config=tool.http.model_dump(mode="json"),
        secret_set=installation.secret_encrypted is not None,
        secret_masked=installation.secret_hint,
        source=f"plugin:{plugin.name}@{plugin.version}",
        created_at=plugin.created_at,
        updated_at=plugin.updated_at,
    )


async def _enabled(session: AsyncSession, user: User) -> list[tuple[Plugin, PluginInstallation]]:
    # Oldest installation first, so a name two plugins share resolves the same way every time.
    return await repository.installed(session, user.id, enabled_only=True)


async def tool_reads(session: AsyncSession, user: User) -> list[ToolRead]:
    """The tools of the user's enabled installations, for GET /tools."""
    return [
        _read(plugin, installation, tool)
        for plugin, installation in await _enabled(session, user)
        for tool in _tools(plugin)
    ]


async def tool_read(session: AsyncSession, user: User, name: str) -> ToolRead | None:
    found = {read.name: read for read in reversed(await tool_reads(session, user))}
    return found.get(name)


async def tools_by_name(session: AsyncSession, user: User, names: Sequence[str]) -> dict[str, Tool]:
    """Runnable tools for the wanted `plugin__...` names the user has enabled (credential
    decrypted only here)."""
    wanted = {name for name in names if name.startswith(PREFIX)}
    if not wanted:
        return {}
    found: dict[str, Tool] = {}
    for plugin, installation in await _enabled(session, user):
        secret = decrypt(installation.secret_encrypted) if installation.secret_encrypted else None
        for tool in _tools(plugin):
            name = qualified_name(plugin.name, tool.name)
            if name in wanted and name not in found:
                found[name] = HttpTool(
                    name,
                    tool.description,
                    tool.input_schema,
                    tool.http,
                    secret=secret,
                    requires_approval=tool.requires_approval,
                    category=CATEGORY,
                )
    return found
