"""API sources: a GET to the configured URL through the SSRF-safe client."""

from __future__ import annotations

import json
from typing import Any

from tiangong.data_sources import hosts, tabular
from tiangong.data_sources.connectors.base import TEST_TIMEOUT_S, Rows, Source
from tiangong.data_sources.errors import Unreachable
from tiangong.data_sources.jsonsafe import json_safe
from tiangong.net import SafeHttpClient

MAX_RESPONSE_BYTES = 5 * 1024 * 1024
MAX_TEXT_CHARS = 100_000


def _url(base: str, path: str | None) -> str:
    # The path always follows a "/", so it can never change the host.
    return base if not path else f"{base.rstrip('/')}/{path.lstrip('/')}"


async def _get(
    source: Source, path: str | None, params: dict[str, str], timeout_s: float
) -> tuple[int, str, bytes]:
    client = SafeHttpClient(allowlist=hosts.allowlist())
    result = await client.request(
        "GET",
        _url(source.config["url"], path),
        headers=source.secrets.get("headers") or None,
        params=params or None,
        timeout_s=timeout_s,
        max_bytes=MAX_RESPONSE_BYTES,
    )
    return result.status, result.headers.get("content-type", ""), result.content


async def test(source: Source) -> str:
    status, content_type, _ = await _get(source, None, {}, TEST_TIMEOUT_S)
    if status >= 400:
        raise Unreachable(f"The API answered HTTP {status}")
    return f"HTTP {status} {content_type}".strip()


def _body(content_type: str, content: bytes) -> Any:
    text = content.decode("utf-8", errors="replace")
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            return json_safe(json.loads(text))
        except (ValueError, RecursionError):
            pass
    return text[:MAX_TEXT_CHARS]


async def query(
    source: Source, path: str | None, params: dict[str, str], limit: int, timeout_s: float
) -> Rows:
    status, content_type, content = await _get(source, path, params, timeout_s)
    body = _body(content_type, content)
    rows = Rows([], [], result=body, status_code=status)
    # A list of records (the usual JSON API answer) is also shown as a table.
    if isinstance(body, list):
        table = tabular.records_table(body, None)
        rows.columns, rows.rows = table.columns, table.rows[:limit]
        rows.truncated = len(table.rows) > limit
    return rows
