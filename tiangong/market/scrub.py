"""What a published snapshot must not carry: the author's credentials."""

from __future__ import annotations

import copy
import re
from typing import Any

# Header names that carry credentials; their values are blanked for the installer to fill in.
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|api[-_]?key|password", re.I)


def graph(definition: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of a workflow graph with credential headers of http_request nodes blanked."""
    if definition is None:
        return None
    found = copy.deepcopy(definition)
    for node in found.get("nodes") or []:
        if not isinstance(node, dict) or node.get("type") != "http_request":
            continue
        headers = (node.get("config") or {}).get("headers")
        if isinstance(headers, dict):
            for name in headers:
                if _SECRET_HEADER.search(str(name)):
                    headers[name] = ""
    return found
