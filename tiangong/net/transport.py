"""An httpx transport that only connects to addresses the guard approved.

The check sits where the socket is opened: httpcore asks the network backend for a connection to
(host, port), and `PinnedNetworkBackend` resolves the host, checks every address, and connects to
a checked address itself. Nothing resolves the name a second time, so there is no DNS-rebinding
window. The URL, the Host header and TLS (SNI and certificate checks) keep the real host name, and
the connection pool is keyed by that name, so a TLS connection verified for one name is never
reused for another name that happens to share its IP. httpx follows redirects by calling the
transport again, so every hop is checked the same way.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Iterable
from functools import cache
from typing import Any, TypeVar

import httpcore
import httpx

from tiangong.config import get_settings
from tiangong.net.addresses import parse_host, parse_url
from tiangong.net.errors import BlockedURL, HttpUnreachable
from tiangong.net.guard import Guard, Resolver

StreamT = TypeVar("StreamT")

_DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
# Passing these to safe_async_client would route requests around SafeTransport.
_BYPASSING_OPTIONS = ("transport", "mounts", "proxy", "trust_env")


@cache
def default_ssl_context() -> ssl.SSLContext:
    """One verifying context for all clients: building one loads the CA bundle (~ms)."""
    return httpx.create_ssl_context()


async def connect_pinned(
    guard: Guard,
    host: str,
    port: int,
    connect_timeout: float | None,
    connect: Callable[[str], Awaitable[StreamT]],
    retry_on: tuple[type[Exception], ...],
) -> StreamT:
    """Resolve and check host, then connect(address) to a checked address, trying the next
    one on a retry_on failure. Raises TimeoutError when the lookup times out, HttpUnreachable when
    the name does not resolve, BlockedURL when the target is refused."""
    async with asyncio.timeout(connect_timeout):
        addresses = await guard.addresses(parse_host(host), port)
    failure: Exception | None = None
    for address in addresses:
        try:
            return await connect(str(address))
        except retry_on as exc:
            failure = exc
    assert failure is not None
    raise failure


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, guard: Guard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        def connect(address: str) -> Awaitable[httpcore.AsyncNetworkStream]:
            return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

        retry_on = (httpcore.ConnectError, httpcore.ConnectTimeout)
        try:
            return await connect_pinned(self._guard, host, port, timeout, connect, retry_on)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"Resolving {host} timed out") from None
        except HttpUnreachable as exc:
            raise httpcore.ConnectError(exc.message) from None

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedURL("Unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class SafeTransport(httpx.AsyncHTTPTransport):
    """httpx.AsyncHTTPTransport whose connections go through the guard.

    resolver and allowlist default to the system resolver and settings.http_allowlist (read at
    each use); network_backend is what finally opens sockets (tests pass a recording fake)."""

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        allowlist: Iterable[str] | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        verify: ssl.SSLContext | bool = True,
        http2: bool = False,
        limits: httpx.Limits = _DEFAULT_LIMITS,
    ) -> None:
        ssl_context = default_ssl_context() if verify is True else httpx.create_ssl_context(verify)
        super().__init__(verify=ssl_context, http2=http2, limits=limits)
        self._guard = Guard(resolver=resolver, allowlist=allowlist)
        # httpx has no public way to hand its pool a network backend, so replace the pool it
        # built with an identical one that has ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=PinnedNetworkBackend(self._guard, network_backend),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Refuse bad schemes, IP literals and refused names before waiting for a connection.
        self._guard.check_host(parse_url(request.url).host)
        return await super().handle_async_request(request)


def safe_async_client(
    *,
    resolver: Resolver | None = None,
    allowlist: Iterable[str] | None = None,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
    verify: ssl.SSLContext | bool = True,
    **httpx_options: Any,
) -> httpx.AsyncClient:
    """An httpx.AsyncClient for user-given URLs: SafeTransport, at most 5 redirects (each one
    checked), settings.http_timeout_s. Other keyword arguments go to httpx.AsyncClient."""
    refused = [name for name in _BYPASSING_OPTIONS if name in httpx_options]
    if refused:
        raise TypeError(f"safe_async_client does not accept {', '.join(refused)}")
    httpx_options.setdefault("follow_redirects", True)
    httpx_options.setdefault("max_redirects", 5)
    httpx_options.setdefault("timeout", get_settings().http_timeout_s)
    transport = SafeTransport(
        resolver=resolver, allowlist=allowlist, network_backend=network_backend, verify=verify
    )
    return httpx.AsyncClient(transport=transport, trust_env=False, **httpx_options)
