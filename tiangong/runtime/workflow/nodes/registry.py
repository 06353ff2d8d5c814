"""Node types by name and version. `@register_node` runs when a node module is imported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tiangong.runtime.workflow.nodes.base import Node

N = TypeVar("N", bound=Node[Any])

_TYPES: dict[str, dict[int, type[Node[Any]]]] = {}


def register_node(type_name: str, *, version: int = 1) -> Callable[[type[N]], type[N]]:
    def register(cls: type[N]) -> type[N]:
        versions = _TYPES.setdefault(type_name, {})
        if version in versions:
            raise ValueError(f"node type {type_name!r} version {version} is registered twice")
        cls.type_name = type_name
        cls.version = version
        versions[version] = cls
        return cls

    return register


def node_class(type_name: str, version: int | None = None) -> type[Node[Any]] | None:
    """The class for a type, at `version` or the newest one."""
    versions = _TYPES.get(type_name)
    if not versions:
        return None
    return versions.get(version if version is not None else max(versions))


def node_types() -> dict[str, list[int]]:
    return {name: sorted(versions) for name, versions in sorted(_TYPES.items())}
