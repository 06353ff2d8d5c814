"""Small helpers to write template definitions compactly."""

from __future__ import annotations

from typing import Any


def node(node_id: str, node_type: str, label: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "label": label, "config": config}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"source": source, "target": target}
    if handle is not None:
        found["source_handle"] = handle
    return found


def field(
    name: str,
    kind: str = "string",
    description: str = "",
    *,
    required: bool = True,
    default: Any = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "type": kind, "description": description}
    if not required:
        spec.update(required=False, default=default)
    return spec


def start(*inputs: dict[str, Any]) -> dict[str, Any]:
    return node("start", "start", "Start", inputs=list(inputs))
