"""The lean HTTP/1.1 client behind streamed completions, against a raw loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tiangong.runtime.llm import lean_http, sse

T = lean_http.Timeouts(connect=2, read=2, write=2)
Handler = Callable[[bytes], bytes | None]


class RawServer:
    """Answers each request with `handler(request_bytes)`; None closes the connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode().split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.handler(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1/chat/completions"


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[Handler], Any]]:
    servers: list[RawServer] = []

    async def start(handler: Handler) -> RawServer:
        server = RawServer(handler)
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert server.server is not None
        server.server.close()


def chunked(*parts: bytes, trailer: bytes = b"") -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    return head + body + b"0\r\n" + trailer + b"\r\n"


async def lines(response: lean_http.LeanResponse) -> list[str]:
    try:
        return [line async for line in response.aiter_lines()]
    finally:
        await response.aclose()


async def test_request_shape_and_chunked_lines_split_across_chunks(raw: Any) -> None:
    server = await raw(lambda _: chunked(b'data: {"a"', b": 1}\r\n\r\ndata: [DONE]\n\n"))
    response = await lean_http.post(server.url, {"Authorization": "Bearer k"}, b'{"x":1}', T)
    assert response.status_code == 200
    assert await lines(response) == ['data: {"a": 1}', "", "data: [DONE]", ""]
    request = server.requests[0]
    assert request.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"Authorization: Bearer k\r\n" in request and b"Content-Length: 7\r\n" in request
    assert request.endswith(b'\r\n\r\n{"x":1}')


async def test_connections_are_kept_alive_and_reused(raw: Any) -> None:
    server = await raw(lambda _: chunked(b"data: [DONE]\n\n", trailer=b"X-Trailer: 1\r\n"))
    for _ in range(3):
        assert await lines(await lean_http.post(server.url, {}, b"{}", T)) == ["data: [DONE]", ""]
    assert server.connections == 1 and len(server.requests) == 3


async def test_a_stream_closed_early_is_not_reused(raw: Any) -> None:
    # The body never ends: closing gives up waiting for it and drops the connection.
    server = await raw(lambda _: chunked(b"data: 1\n\n")[:-5])
    response = await lean_http.post(server.url, {}, b"{}", T)
    async for _ in response.aiter_lines():
        break
    await response.aclose()
    response = await lean_http.post(server.url, {}, b"{}", T)
    await response.aclose()
    assert server.connections == 2


async def test_an_idle_connection_the_server_dropped_is_replaced(raw: Any) -> None:
    answers = iter([chunked(b"data: 1\n\n"), None, chunked(b"data: 2\n\n")])
    server = await raw(lambda _: next(answers))
    assert await lines(await lean_http.post(server.url, {}, b"{}", T)) == ["data: 1", ""]
    # The server closes the kept-alive connection instead of answering the second request.
    assert await lines(await lean_http.post(server.url, {}, b"{}", T)) == ["data: 2", ""]
    assert server.connections == 2


async def test_sized_and_close_delimited_bodies(raw: Any) -> None:
    sized = await raw(lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ndata: 1\n")
    assert await lines(await lean_http.post(sized.url, {}, b"{}", T)) == ["data: 1"]
    await lines(await lean_http.post(sized.url, {}, b"{}", T))
    assert sized.connections == 1
    unsized = await raw(lambda _: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndata: 2\r\n")
    response = await lean_http.post(unsized.url, {}, b"{}", T)
    # The body ends when the server closes the connection.
    assert (await asyncio.wait_for(lines(response), 5)) == ["data: 2"]


async def test_interim_responses_are_skipped(raw: Any) -> None:
    server = await raw(lambda _: b"HTTP/1.1 100 Continue\r\n\r\n" + chunked(b"data: 1\n\n"))
    response = await lean_http.post(server.url, {}, b"{}", T)
    assert response.status_code == 200 and await lines(response) == ["data: 1", ""]


async def test_failures_are_the_sdk_errors(raw: Any) -> None:
    import openai

    garbage = await raw(lambda _: b"SMTP ready\r\n\r\n")
    with pytest.raises(openai.APIConnectionError):
        async with sse.open_stream(garbage.url.rsplit("/chat", 1)[0], "k", {}, _timeout()):
            pass
    silent = await raw(lambda _: b"")
    with pytest.raises(openai.APITimeoutError):
        async with sse.open_stream(silent.url.rsplit("/chat", 1)[0], "k", {}, _timeout(0.2)):
            pass
    limited = await raw(
        lambda _: (
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 35\r\n\r\n"
            b'{"error": {"message": "slow down"}}'
        )
    )
    with pytest.raises(openai.RateLimitError) as caught:
        async with sse.open_stream(limited.url.rsplit("/chat", 1)[0], "k", {}, _timeout()):
            pass
    assert caught.value.response.headers["retry-after"] == "7"
    assert "slow down" in str(caught.value)


async def test_a_proxy_in_the_environment_sends_the_call_through_httpx(
    raw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lean_http.direct()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert not lean_http.direct()
    server = await raw(lambda _: chunked(b"data: [DONE]\n\n"))
    # httpx would send an http:// URL direct (HTTPS_PROXY only covers https), through its pool.
    async with sse.open_stream(server.url.rsplit("/chat", 1)[0], "k", {}, _timeout()) as response:
        assert not isinstance(response, lean_http.LeanResponse)
        assert [chunk async for chunk in sse.chunks(response)] == []


def _timeout(read: float = 2.0) -> Any:
    import httpx2

    return httpx2.Timeout(read, connect=2.0)


async def test_a_reader_that_stops_at_done_keeps_the_connection(raw: Any) -> None:
    server = await raw(lambda _: chunked(b'data: {"choices": []}\n\ndata: [DONE]\n\n'))
    base = server.url.rsplit("/chat", 1)[0]
    for _ in range(3):
        async with sse.open_stream(base, "k", {}, _timeout()) as response:
            assert [chunk async for chunk in sse.chunks(response)] == [{"choices": []}]
    assert server.connections == 1 and len(server.requests) == 3


async def test_tls_is_verified_and_works_with_a_trusted_certificate(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ipaddress
    import ssl

    import openai
    from cryptography import x509

    from tests.certs import self_signed

    cert, key = self_signed(
        tmp_path, "127.0.0.1", x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    )
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server = RawServer(lambda _: chunked(b'data: {"choices": []}\n\ndata: [DONE]\n\n'))
    server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=server_tls)
    base = f"https://127.0.0.1:{server.server.sockets[0].getsockname()[1]}/v1"
    try:
        # The default trust store does not know this certificate: the call is refused.
        with pytest.raises(openai.APIConnectionError):
            async with sse.open_stream(base, "k", {}, _timeout()):
                pass
        trusting = ssl.create_default_context(cafile=str(cert))
        monkeypatch.setattr(lean_http, "_tls", lambda: trusting)
        for _ in range(2):
            async with sse.open_stream(base, "k", {}, _timeout()) as response:
                assert [chunk async for chunk in sse.chunks(response)] == [{"choices": []}]
        # The refused handshake never reached the handler; both calls shared one connection.
        assert server.connections == 1 and len(server.requests) == 2
    finally:
        server.server.close()


async def test_a_pinned_address_is_dialled_and_the_host_header_kept(raw: Any) -> None:
    """`connect_to`: the address the guard vetted is the one connected to, whatever the name
    would resolve to now; the request still names the URL's host."""
    server = await raw(lambda _: chunked(b"data: [DONE]\n\n"))
    port = server.server.sockets[0].getsockname()[1]
    url = f"http://models.invalid:{port}/v1/chat/completions"
    response = await lean_http.post(url, {}, b"{}", T, connect_to="127.0.0.1")
    assert await lines(response) == ["data: [DONE]", ""]
    assert f"Host: models.invalid:{port}\r\n".encode() in server.requests[0]
    # A kept connection is reused only for the same pinned address.
    response = await lean_http.post(url, {}, b"{}", T, connect_to="127.0.0.1")
    assert await lines(response) == ["data: [DONE]", ""]
    assert server.connections == 1
    # By name: models.invalid does not resolve (or the lookup times out with no resolver).
    with pytest.raises((lean_http.LeanTransportError, lean_http.LeanTimeout)):
        await lean_http.post(url, {}, b"{}", T)
