"""A tiny real HTTP server on 127.0.0.1 for tests of outbound HTTP (tools, imports)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Route


async def _echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": {k: v for k, v in request.headers.items() if k.startswith(("x-", "auth"))},
            "body": body.decode() if body else None,
        }
    )


async def _text(request: Request) -> PlainTextResponse:
    return PlainTextResponse("plain words")


async def _to_metadata(request: Request) -> RedirectResponse:
    return RedirectResponse("http://169.254.169.254/latest/meta-data/")


class LoopbackServer:
    def __init__(self, extra_routes: list[Route] | None = None) -> None:
        routes = [
            Route("/text", _text),
            Route("/redirect-metadata", _to_metadata),
            Route("/{path:path}", _echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
        self.app = Starlette(routes=(extra_routes or []) + routes)
        self.port = 0
        self._server: uvicorn.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = server = uvicorn.Server(config)
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        deadline = time.monotonic() + 5
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


def allow_loopback(monkeypatch: Any) -> None:
    """Open 127.0.0.1 in the SSRF allow-list for one test."""
    from tiangong.config import get_settings

    monkeypatch.setattr(get_settings(), "http_allowlist", ["127.0.0.1/32"])
