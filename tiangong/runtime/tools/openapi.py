"""Turn an OpenAPI 3 document into HTTP tool definitions, one per operation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tiangong.runtime.tools.base import ToolError
from tiangong.runtime.tools.http_tool import HttpToolConfig

_METHODS = ("get", "post", "put", "patch", "delete", "head")
_MAX_DEPTH = 20
MAX_OPERATIONS = 200


@dataclass(frozen=True)
class ImportedTool:
    name: str
    description: str
    parameters: dict[str, Any]
    config: HttpToolConfig


def _resolve(node: Any, doc: dict[str, Any], depth: int = 0) -> Any:
    """Inline local $refs (#/components/...), guarding against cycles by depth."""
    if depth > _MAX_DEPTH:
        return {}
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                raise ToolError(f"Only local $ref values are supported, not {ref!r}")
            target: Any = doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise ToolError(f"Unresolvable $ref {ref!r}")
                target = target[part]
            return _resolve(target, doc, depth + 1)
        return {k: _resolve(v, doc, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(item, doc, depth + 1) for item in node]
    return node


def _server_url(doc: dict[str, Any], base_url: str | None) -> str:
    if base_url:
        return base_url.rstrip("/")
    servers = doc.get("servers") or []
    if not servers or not isinstance(servers[0], dict) or not servers[0].get("url"):
        raise ToolError("The document has no servers[0].url; give base_url")
    url = str(servers[0]["url"])
    for key, var in (servers[0].get("variables") or {}).items():
        url = url.replace("{" + key + "}", str(var.get("default", "")))
    if not url.startswith(("http://", "https://")):
        raise ToolError(f"servers[0].url {url!r} is not absolute; give base_url")
    return url.rstrip("/")


def _tool_name(operation: dict[str, Any], method: str, path: str, taken: set[str]) -> str:
    raw = operation.get("operationId") or f"{method}_{path}"
    name = re.sub(r"[^a-zA-Z0-9_-]+", "_", str(raw)).strip("_")[:60] or method
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name[:57]}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _operation(
    doc: dict[str, Any], server: str, path: str, method: str, item: dict[str, Any], taken: set[str]
) -> ImportedTool:
    operation = _resolve(item[method], doc)
    params = _resolve(item.get("parameters", []), doc) + operation.get("parameters", [])
    properties: dict[str, Any] = {}
    required: list[str] = []
    query_args: list[str] = []
    header_args: list[str] = []
    for param in params:
        name, where = param.get("name"), param.get("in")
        if not isinstance(name, str) or where not in ("path", "query", "header"):
            continue
        schema = dict(param.get("schema") or {"type": "string"})
        if param.get("description"):
            schema["description"] = param["description"]
        properties[name] = schema
        if param.get("required") or where == "path":
            required.append(name)
        if where == "query":
            query_args.append(name)
        elif where == "header":
            header_args.append(name)
    body_arg = None
    content = (operation.get("requestBody") or {}).get("content") or {}
    json_body = content.get("application/json")
    if isinstance(json_body, dict):
        body_arg = "body"
        properties["body"] = json_body.get("schema") or {"type": "object"}
        if operation["requestBody"].get("required"):
            required.append("body")
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = sorted(set(required))
    summary = operation.get("summary") or operation.get("description") or f"{method.upper()} {path}"
    return ImportedTool(
        name=_tool_name(operation, method, path, taken),
        description=str(summary)[:1000],
        parameters=parameters,
        config=HttpToolConfig(
            method=method.upper(),
            url=server + path,
            query_args=query_args,
            header_args=header_args,
            body_arg=body_arg,
            pass_unused=False,
        ),
    )


def tools_from_openapi(doc: Any, *, base_url: str | None = None) -> list[ImportedTool]:
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3."):
        raise ToolError("Not an OpenAPI 3 document (the 'openapi' field must be 3.x)")
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise ToolError("The document has no paths")
    server = _server_url(doc, base_url)
    taken: set[str] = set()
    tools = []
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in _METHODS:
            if isinstance(item.get(method), dict):
                tools.append(_operation(doc, server, str(path), method, item, taken))
    if not tools:
        raise ToolError("The document has no operations")
    if len(tools) > MAX_OPERATIONS:
        raise ToolError(f"Too many operations ({len(tools)}); the limit is {MAX_OPERATIONS}")
    return tools
