"""A minimal HTTP/1.1 client for streamed completions.

The model's first token is on the critical path of every chat turn, and httpx (httpcore, h11,
anyio) adds about 0.8 ms to it: time to the first parsed chunk from the fake LLM, p50 1.6 ms
over httpx against 0.9 ms over this client (`bench/llm_transport.py`). This covers
only what an OpenAI-compatible stream needs: POST of a JSON body, keep-alive, chunked or sized
or close-delimited bodies, and TLS. A proxy from the environment sends the call through httpx
instead (`direct`), which knows proxies.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import ssl
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import certifi

MAX_HEAD = 64 * 1024
MAX_IDLE = 128  # idle connections kept per endpoint
DRAIN_S = 0.05  # how long closing waits for the rest of a body, to keep the connection
MAX_DRAIN = 64 * 1024  # more unread body than this: close instead
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


class LeanTimeout(Exception):
    """Connecting, sending, or waiting for the next bytes took longer than allowed."""


class LeanTransportError(Exception):
    """The connection failed or the server broke the protocol."""


@dataclass(frozen=True)
class Timeouts:
    connect: float | None
    read: float | None
    write: float | None


def direct() -> bool:
    """False when the environment names a proxy: httpx honours it, this client does not."""
    return not any(os.environ.get(name) for name in _PROXY_VARS)


@cache
def _tls() -> ssl.SSLContext:
    # Built once per process: loading the CA bundle costs about 20 ms.
    return ssl.create_default_context(cafile=certifi.where())


# (scheme, host, port, the address connected to: the host itself unless pinned)
Endpoint = tuple[str, str, int, str]
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]

_idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Endpoint, list[Conn]]] = (
    weakref.WeakKeyDictionary()
)


def _pool() -> dict[Endpoint, list[Conn]]:
    loop = asyncio.get_running_loop()
    pool = _idle.get(loop)
    if pool is None:
        pool = _idle[loop] = {}
    return pool


async def _timed(awaitable: Any, seconds: float | None, what: str) -> Any:
    try:
        # asyncio.timeout, not wait_for, which on Python 3.11 can swallow a cancel.
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise LeanTimeout(f"{what} timed out") from None
    except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise LeanTransportError(f"{what} failed: {type(exc).__name__}") from None


class LeanResponse:
    def __init__(
        self,
        url: str,
        endpoint: Endpoint,
        conn: Conn,
        status: int,
        headers: dict[str, str],
        t: Timeouts,
    ) -> None:
        self.url, self.endpoint, self.status_code, self.headers = url, endpoint, status, headers
        self._reader, self._writer = conn
        self._read_s = t.read
        self._done = False
        self._reusable = headers.get("connection", "").lower() != "close"
        encoding = headers.get("transfer-encoding", "").lower()
        self._chunked = "chunked" in encoding
        length = headers.get("content-length")
        self._left = int(length) if length and length.isdigit() and not self._chunked else None
        if not self._chunked and self._left is None:
            self._reusable = False  # the body ends when the server closes
        if status in (204, 304) or self._left == 0:
            self._done = True

    async def _read(self, awaitable: Any) -> Any:
        return await _timed(awaitable, self._read_s, "reading the response")

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        reader = self._reader
        while not self._done:
            if self._chunked:
                line = await self._read(reader.readuntil(b"\r\n"))
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise LeanTransportError("malformed chunked body") from None
                if size == 0:
                    # Trailers, if any, end with an empty line.
                    while await self._read(reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    self._done = True
                    break
                data = await self._read(reader.readexactly(size + 2))
                yield data[:-2]
            elif self._left is not None:
                data = await self._read(reader.read(min(self._left, 65536)))
                if not data:
                    raise LeanTransportError("the server closed the connection mid-body")
                self._left -= len(data)
                self._done = self._left <= 0
                yield data
            else:
                data = await self._read(reader.read(65536))
                if not data:
                    self._done = True
                    break
                yield data

    async def aiter_lines(self) -> AsyncIterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        async for data in self.aiter_bytes():
            pending += decoder.decode(data)
            if "\n" not in pending:
                continue
            *lines, pending = pending.split("\n")
            for line in lines:
                yield line[:-1] if line.endswith("\r") else line
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending.rstrip("\r")

    async def _drain(self) -> None:
        left = 0
        async for data in self.aiter_bytes():
            left += len(data)
            if left > MAX_DRAIN:
                return

    async def aread(self) -> bytes:
        return b"".join([data async for data in self.aiter_bytes()])

    async def aclose(self) -> None:
        if not self._done and self._reusable:
            # A reader that stopped at `data: [DONE]` leaves the body's last bytes (the chunked
            # terminator) unread; they are normally here already. Reading them keeps the
            # connection for the next call instead of a new connect before its first token.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(DRAIN_S):
                    await self._drain()
        if self._done and self._reusable and not self._writer.is_closing():
            idle = _pool().setdefault(self.endpoint, [])
            if len(idle) < MAX_IDLE:
                idle.append((self._reader, self._writer))
                return
        self._writer.close()


def _endpoint(url: str, connect_to: str | None) -> tuple[Endpoint, str, str]:
    """(scheme, host, port, address), the request target, and the Host header."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise LeanTransportError(f"unsupported URL: {url}")
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = port == (443 if scheme == "https" else 80)
    endpoint = (scheme, parts.hostname, port, connect_to or parts.hostname)
    return endpoint, target, host if default else f"{host}:{port}"


async def _connect(endpoint: Endpoint, t: Timeouts) -> Conn:
    scheme, host, port, address = endpoint
    tls = _tls() if scheme == "https" else None
    # TLS checks the certificate against the URL's host, whatever address was dialled.
    server = host if tls is not None else None
    opening = asyncio.open_connection(
        address, port, ssl=tls, server_hostname=server, limit=MAX_HEAD
    )
    conn: Conn = await _timed(opening, t.connect, "connecting")
    return conn


async def post(
    url: str, headers: dict[str, str], body: bytes, t: Timeouts, connect_to: str | None = None
) -> LeanResponse:
    """Send the request and read the response head; the body is read from the response.
    `connect_to`: the address to dial instead of resolving the host (one already vetted)."""
    endpoint, target, host = _endpoint(url, connect_to)
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}", "User-Agent: tiangong"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["Content-Type: application/json", "Accept-Encoding: identity"]
    lines += [f"Content-Length: {len(body)}", "", ""]
    request = "\r\n".join(lines).encode("latin-1") + body
    idle = _pool().get(endpoint)
    while idle:
        conn = idle.pop()
        if conn[1].is_closing() or conn[0].at_eof():
            conn[1].close()
            continue
        try:
            return await _exchange(url, endpoint, conn, request, t)
        except LeanTransportError:
            # The server may close an idle connection just as it is reused: one fresh try.
            conn[1].close()
            break
        except BaseException:
            conn[1].close()
            raise
    conn = await _connect(endpoint, t)
    try:
        return await _exchange(url, endpoint, conn, request, t)
    except BaseException:
        conn[1].close()
        raise


async def _exchange(
    url: str, endpoint: Endpoint, conn: Conn, request: bytes, t: Timeouts
) -> LeanResponse:
    reader, writer = conn
    writer.write(request)
    await _timed(writer.drain(), t.write, "sending the request")
    while True:
        head = await _timed(reader.readuntil(b"\r\n\r\n"), t.read, "reading the response")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise LeanTransportError("malformed response head")
        status = int(parts[1])
        if 100 <= status < 200:
            continue  # 100 Continue and other interim answers
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                key = name.strip().lower()
                value = value.strip()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return LeanResponse(url, endpoint, conn, status, headers, t)
