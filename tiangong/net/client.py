"""SafeHttpClient: the platform's HttpFetcher for every user-configured URL."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

from tiangong.config import get_settings
from tiangong.net.addresses import parse_url
from tiangong.net.errors import HttpTimeout, HttpUnreachable, InvalidURL, ResponseTooLarge
from tiangong.net.guard import Guard, Resolver
from tiangong.net.transport import safe_async_client
from tiangong.runtime.tools.context import HttpResult


async def check_url(
    url: str, *, resolver: Resolver | None = None, allowlist: Iterable[str] | None = None
) -> None:
    """Refuse a URL when it is saved (BlockedURL, InvalidURL, or HttpUnreachable when the host
    does not resolve). Requests are checked again when made: this is not a substitute."""
    target = parse_url(url)
    await Guard(resolver=resolver, allowlist=allowlist).addresses(target.host, target.port)


class SafeHttpClient:
    """Each request resolves and checks its target (and every redirect) afresh, is cut off after
    timeout_s in total, and fails once the body passes max_bytes.

    Errors: BlockedURL (URL_BLOCKED), InvalidURL (URL_INVALID), HttpTimeout (HTTP_TIMEOUT),
    ResponseTooLarge (HTTP_RESPONSE_TOO_LARGE), HttpUnreachable (HTTP_UNREACHABLE). HTTP error
    statuses are results, not errors."""

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        allowlist: Iterable[str] | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._resolver = resolver
        self._allowlist = None if allowlist is None else tuple(allowlist)
        self._network_backend = network_backend
        self._verify = verify

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        timeout_s: float | None = None,
        max_bytes: int | None = None,
    ) -> HttpResult:
        settings = get_settings()
        timeout = settings.http_timeout_s if timeout_s is None else timeout_s
        limit = settings.http_max_response_bytes if max_bytes is None else max_bytes
        host = parse_url(url).host.name
        started = time.perf_counter()
        # A fresh client per request: no connection, answer or allow-list outlives the call.
        client = safe_async_client(
            resolver=self._resolver,
            allowlist=self._allowlist,
            network_backend=self._network_backend,
            verify=self._verify,
            timeout=timeout,
        )
        try:
            async with asyncio.timeout(timeout), client:
                async with client.stream(
                    method,
                    url,
                    headers=dict(headers) if headers else None,
                    params=dict(params) if params else None,
                    json=json,
                    content=content,
                ) as response:
                    body = await _read_capped(response, limit, host)
        except (TimeoutError, httpx.TimeoutException):
            raise HttpTimeout(f"{host} did not answer within {timeout:g} s") from None
        except httpx.TooManyRedirects:
            raise HttpUnreachable(f"{host} redirected more than 5 times") from None
        except httpx.InvalidURL as exc:
            raise InvalidURL(f"Invalid URL: {exc}") from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise HttpUnreachable(f"Request to {host} failed: {reason}") from None
        return HttpResult(
            status=response.status_code,
            headers=response.headers,
            content=body,
            url=str(response.url),
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )


async def _read_capped(response: httpx.Response, limit: int, host: str) -> bytes:
    too_large = f"The response from {host} is larger than {limit} bytes"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(too_large)
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise ResponseTooLarge(too_large)
    return bytes(body)
