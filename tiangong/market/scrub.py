"""What a published snapshot must not carry: the author's credentials."""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Names (header names, config keys, query parameters) whose values are credentials; they are
# blanked for the installer to fill in.
_SECRET_NAME = re.compile(
    r"authorization|cookie|token|secret|api[-_]?key|password|passwd|credential|access[-_]?key",
    re.I,
)


def _url(value: str) -> str:
    """The URL without user info and with credential query parameters blanked."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if parts.scheme not in ("http", "https"):
        return value
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    query = [(k, "" if _SECRET_NAME.search(k) else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))


def _clean(value: Any) -> Any:
    """Every node's config, at any depth: secret-named keys blanked, URLs cleaned."""
    if isinstance(value, dict):
        return {
            key: "" if _SECRET_NAME.search(str(key)) and isinstance(item, str) else _clean(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return _url(value)
    return value


def graph(definition: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of a workflow graph with the credentials in its nodes' configs blanked."""
    if definition is None:
        return None
    found = copy.deepcopy(definition)
    for node in found.get("nodes") or []:
        if isinstance(node, dict) and isinstance(node.get("config"), dict):
            node["config"] = _clean(node["config"])
    return found
