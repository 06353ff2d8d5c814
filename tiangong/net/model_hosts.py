"""Where users' model endpoints (chat models, embeddings) may send requests.

A model config's or a knowledge base's base URL is user-given, like a tool's or a webhook's:
it must not let a user point the server at loopback, private or metadata addresses. It is
checked when saved (IP literals and refused names) and again before every call (what the name
resolves to then). Calls dial only checked addresses: streams the address `address()` returns,
the SDK's calls through `sdk_http()`, whose transport checks and pins every connection.
Addresses an admin opened in `http_allowlist` or `llm_allowlist` (a local Ollama or vLLM) pass.
"""

from __future__ import annotations

import asyncio
import time
import weakref

import httpx2

from tiangong.config import get_settings
from tiangong.net.addresses import parse_url
from tiangong.net.errors import BlockedURL
from tiangong.net.guard import Guard
from tiangong.net.mcp_http import SafeTransport2

HINT = "An administrator can open the address with TIANGONG_LLM_ALLOWLIST."
# A vetted answer is reused this long: a lookup per call would add the resolver's time to every
# first token. Reusing it is safe because the stream dials that very address.
VETTED_S = 10.0
_MAX_VETTED = 1024

_vetted: dict[tuple[str, tuple[str, ...]], tuple[float, str]] = {}
_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, ...], httpx2.AsyncClient]
] = weakref.WeakKeyDictionary()


def _allowlist() -> tuple[str, ...]:
    settings = get_settings()
    return (*settings.http_allowlist, *settings.llm_allowlist)


def check(url: str, field: str) -> None:
    """At save time: refuses (400 BASE_URL_BLOCKED) what needs no lookup to refuse."""
    try:
        Guard(allowlist=_allowlist()).check_host(parse_url(url).host)
    except BlockedURL as exc:
        raise BlockedURL(
            f"{field} is not allowed: {exc.message}. {HINT}", code="BASE_URL_BLOCKED"
        ) from None


async def address(url: str) -> str:
    """At call time: the address to dial for the URL's host, once every address the host has
    is allowed. Raises BlockedURL or HttpUnreachable."""
    allowlist = _allowlist()
    key = (url, allowlist)
    now = time.monotonic()
    hit = _vetted.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    target = parse_url(url)
    found = str((await Guard(allowlist=allowlist).addresses(target.host, target.port))[0])
    if len(_vetted) >= _MAX_VETTED:
        _vetted.clear()
    _vetted[key] = (now + VETTED_S, found)
    return found


def sdk_http() -> httpx2.AsyncClient:
    """The running loop's client for SDK calls to users' model endpoints: every connection is
    checked and dialled at a checked address (no second lookup)."""
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    allowlist = _allowlist()
    client = per_loop.get(allowlist)
    if client is None:
        transport = SafeTransport2(allowlist=allowlist)
        # The SDK passes its own timeout with every request; this is only the fallback.
        timeout = httpx2.Timeout(60.0, connect=10.0)
        client = httpx2.AsyncClient(transport=transport, timeout=timeout, trust_env=False)
        per_loop[allowlist] = client
    return client
