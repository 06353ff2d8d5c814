"""Tool registries. BUILTIN holds the builtin catalogue; the platform composes per-user
registries from it plus custom and MCP tools."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tiangong.runtime.tools.base import Tool

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> Tool:
        if not _NAME.match(tool.name):
            raise ValueError(f"tool name {tool.name!r} must match {_NAME.pattern}")
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self._tools[tool.name] = tool
        return tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def all(self) -> list[Tool]:
        return sorted(self._tools.values(), key=lambda t: (t.category, t.name))

    def categories(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tool in self._tools.values():
            counts[tool.category] = counts.get(tool.category, 0) + 1
        return dict(sorted(counts.items()))

    def search(self, *, category: str | None = None, query: str | None = None) -> list[Tool]:
        needle = (query or "").lower()
        return [
            t
            for t in self.all()
            if (category is None or t.category == category)
            and (not needle or needle in t.name.lower() or needle in t.description.lower())
        ]


BUILTIN = ToolRegistry()


def builtin_tool(cls: type[Tool]) -> type[Tool]:
    """Class decorator: register one instance in the builtin catalogue."""
    BUILTIN.register(cls())
    return cls
