"""The same protection for MCP servers. The MCP SDK (mcp>=2) speaks httpx2, a fork of httpx with
the same API, so this mirrors transport.py on httpx2/httpcore2 and shares its checks."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Iterable
from typing import Any

import httpcore2
import httpx2

from tiangong.config import get_settings
from tiangong.net.addresses import parse_url
from tiangong.net.errors import BlockedURL, HttpUnreachable
from tiangong.net.guard import Guard, Resolver
from tiangong.net.transport import connect_pinned, default_ssl_context

# Like the SDK's own client: MCP servers may hold an event stream open for minutes.
_SSE_READ_TIMEOUT_S = 300.0


class PinnedNetworkBackend2(httpcore2.AsyncNetworkBackend):
    def __init__(self, guard: Guard, inner: httpcore2.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's signature)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        def connect(address: str) -> Awaitable[httpcore2.AsyncNetworkStream]:
            return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

        retry_on = (httpcore2.ConnectError, httpcore2.ConnectTimeout)
        try:
            return await connect_pinned(self._guard, host, port, timeout, connect, retry_on)
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"Resolving {host} timed out") from None
        except HttpUnreachable as exc:
            raise httpcore2.ConnectError(exc.message) from None

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's signature)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise BlockedURL("Unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class SafeTransport2(httpx2.AsyncHTTPTransport):
    """SafeTransport for httpx2; see tiangong.net.transport.SafeTransport."""

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        allowlist: Iterable[str] | None = None,
        network_backend: httpcore2.AsyncNetworkBackend | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        ssl_context = default_ssl_context() if verify is True else httpx2.create_ssl_context(verify)
        limits = httpx2.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(verify=ssl_context, limits=limits)
        self._guard = Guard(resolver=resolver, allowlist=allowlist)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedNetworkBackend2(self._guard, network_backend),
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self._guard.check_host(parse_url(request.url).host)
        return await super().handle_async_request(request)


def safe_mcp_http_client(
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
    *,
    resolver: Resolver | None = None,
    allowlist: Iterable[str] | None = None,
    network_backend: httpcore2.AsyncNetworkBackend | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx2.AsyncClient:
    """A drop-in for the SDK's create_mcp_http_client (its McpHttpClientFactory signature):
    pass it as httpx_client_factory, or pass safe_mcp_http_client() as http_client. Redirects
    are left to the SDK, which follows them itself; each one still goes through SafeTransport2."""
    if timeout is None:
        timeout = httpx2.Timeout(get_settings().http_timeout_s, read=_SSE_READ_TIMEOUT_S)
    transport = SafeTransport2(
        resolver=resolver, allowlist=allowlist, network_backend=network_backend, verify=verify
    )
    return httpx2.AsyncClient(
        headers=headers, timeout=timeout, auth=auth, transport=transport, trust_env=False
    )
