"""Fakes for the SSRF tests: a resolver that never queries DNS, network backends that record every
connection (and, for the fake one, never open a socket), and a small HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import pytest
from cryptography import x509

from tests.certs import self_signed


@pytest.fixture(autouse=True)
async def clean_state() -> AsyncIterator[None]:
    """These tests touch no database or cache: skip the suite-wide cleanup."""
    yield


class FakeResolver:
    """Answers from a table, never from DNS; once a name has been looked up, later lookups answer
    from `then` if it has the name. Unknown names fail like NXDOMAIN. Lookups are recorded."""

    def __init__(
        self, table: Mapping[str, list[str]], *, then: Mapping[str, list[str]] | None = None
    ) -> None:
        self.table = table
        self.then = then or {}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        table = self.then if host in self.calls and host in self.then else self.table
        self.calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(table[host])


CANNED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class FakeStream(httpcore.AsyncNetworkStream):
    def __init__(self, network: FakeNetwork) -> None:
        self.network = network
        self.unread = CANNED

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        chunk, self.unread = self.unread[:max_bytes], self.unread[max_bytes:]
        return chunk

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.network.written += buffer

    async def aclose(self) -> None:
        return None

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        self.network.tls_names.append(server_hostname)
        return self

    def get_extra_info(self, info: str) -> Any:
        return None


@dataclass
class FakeNetwork(httpcore.AsyncNetworkBackend):
    """Opens no socket: records (host, port) and answers every request with 200 "ok"."""

    connects: list[tuple[str, int]] = field(default_factory=list)
    tls_names: list[str | None] = field(default_factory=list)
    written: bytes = b""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        return FakeStream(self)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class RecordingNetwork(httpcore.AnyIOBackend):
    """The real backend, refusing anything but loopback and recording each connection."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        assert host == "127.0.0.1", f"test tried to connect to {host}"
        return await super().connect_tcp(host, port, timeout, local_address, socket_options)


@pytest.fixture
def fake_network() -> FakeNetwork:
    return FakeNetwork()


@pytest.fixture
def loopback_network() -> RecordingNetwork:
    return RecordingNetwork()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        url = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/echo":
            body = f"{method} host={headers.get('host')}".encode()
            writer.write(_response("200 OK", body))
        elif url.path == "/redirect":
            writer.write(_response("302 Found", b"", location=query["to"]))
        elif url.path == "/loop":
            writer.write(_response("302 Found", b"", location="/loop"))
        elif url.path == "/big":
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )
            remaining = int(query["n"])
            while remaining > 0:
                size = min(remaining, 16384)
                writer.write(f"{size:x}\r\n".encode() + b"x" * size + b"\r\n")
                remaining -= size
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        elif url.path == "/declared":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\nConnection: close\r\n\r\nxx"
            )
        elif url.path == "/slow":
            await asyncio.wait_for(reader.read(), timeout=5)
        else:
            writer.write(_response("404 Not Found", b"no"))
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        pass
    finally:
        writer.close()


def _response(status: str, body: bytes, *, location: str | None = None) -> bytes:
    extra = f"Location: {location}\r\n" if location else ""
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        f"{extra}Connection: close\r\n\r\n"
    )
    return head.encode() + body


@pytest.fixture(scope="module")
async def loopback_port() -> AsyncIterator[int]:
    """Port of an HTTP server on 127.0.0.1: /echo, /redirect?to=, /loop, /big?n=, /declared,
    /slow."""
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    yield port
    server.close()
    await server.wait_closed()


@dataclass(frozen=True)
class TlsServer:
    port: int
    # Trusts only this server's self-signed certificate, issued for "svc.test" (no IP SAN).
    client_context: ssl.SSLContext


@pytest.fixture(scope="module")
async def tls_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TlsServer]:
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = self_signed(directory, "svc.test", x509.DNSName("svc.test"))
    cert_pem = cert_path.read_bytes()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, ssl=server_context)
    client_context = ssl.create_default_context(cadata=cert_pem.decode())
    yield TlsServer(int(server.sockets[0].getsockname()[1]), client_context)
    server.close()
    await server.wait_closed()
