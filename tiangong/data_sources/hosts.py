"""Where a data source's database or Redis server may be reached from.

Host and port are user-given, like a tool's URL: a user who is not an admin may not point the
server at loopback, private, link-local or metadata addresses. The host is checked when saved
(IP literals and refused names) and resolved and checked again at every use; the connection
then goes to the checked address, so a name cannot resolve elsewhere in between. Admins reach
any address (their databases live on private networks). `TIANGONG_DATA_SOURCE_ALLOWLIST` and
`TIANGONG_HTTP_ALLOWLIST` open addresses for everyone.
"""

from __future__ import annotations

import asyncio

from tiangong.auth.models import User
from tiangong.config import get_settings
from tiangong.data_sources.errors import Unreachable
from tiangong.errors import ValidationFailed
from tiangong.net.addresses import Host, parse_host
from tiangong.net.errors import BlockedURL, HttpUnreachable, InvalidURL
from tiangong.net.guard import Guard

HINT = "An administrator can open the address with TIANGONG_DATA_SOURCE_ALLOWLIST."
RESOLVE_TIMEOUT_S = 5.0


def allowlist() -> tuple[str, ...]:
    settings = get_settings()
    return (*settings.http_allowlist, *settings.data_source_allowlist)


def parse(host: str) -> Host:
    try:
        return parse_host(host.strip().removeprefix("[").removesuffix("]"))
    except InvalidURL as exc:
        raise ValidationFailed(f"host: {exc.message}", code="DATA_SOURCE_HOST_INVALID") from None


def _blocked(exc: BlockedURL) -> BlockedURL:
    return BlockedURL(f"{exc.message}. {HINT}", code="DATA_SOURCE_HOST_BLOCKED")


def check(user: User, host: str) -> None:
    """At save time: refuses what needs no lookup to refuse."""
    parsed = parse(host)
    if user.is_admin:
        return
    try:
        Guard(allowlist=allowlist()).check_host(parsed)
    except BlockedURL as exc:
        raise _blocked(exc) from None


async def address(user: User, host: str, port: int) -> str:
    """At use time: the address to connect to. Raises DATA_SOURCE_HOST_BLOCKED, or
    HTTP_UNREACHABLE when the name does not resolve."""
    parsed = parse(host)
    if user.is_admin:
        return parsed.name
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            found = await Guard(allowlist=allowlist()).addresses(parsed, port)
    except BlockedURL as exc:
        raise _blocked(exc) from None
    except HttpUnreachable as exc:
        raise Unreachable(exc.message) from None
    except TimeoutError:
        raise Unreachable(f"Resolving {parsed.name} timed out") from None
    return str(found[0])
