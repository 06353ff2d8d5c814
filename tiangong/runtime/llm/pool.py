"""Shared SDK clients. Building an `AsyncOpenAI` per call costs about 20 ms (a fresh TLS context
and CA bundle load, even for http:// URLs) and a new TCP connection; sharing one HTTP client per
event loop removes both. Clients are per loop because connections belong to the loop."""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Callable

import httpx2 as httpx  # the openai SDK is built on httpx2, a fork of httpx
import openai

_MAX_SDK_CLIENTS = 64

# Gives the HTTP client for the SDK to send through (see shared_client's `http`).
HttpFactory = Callable[[], httpx.AsyncClient]


class _LoopClients:
    def __init__(self) -> None:
        self.http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
            # The SDK passes its own timeout with every request; this is only the fallback.
            timeout=httpx.Timeout(60.0, connect=10.0),
        )
        self.sdk: OrderedDict[tuple[str, str, int], openai.AsyncOpenAI] = OrderedDict()


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
    weakref.WeakKeyDictionary()
)


def _loop_clients() -> _LoopClients:
    loop = asyncio.get_running_loop()
    clients = _by_loop.get(loop)
    if clients is None:
        clients = _by_loop[loop] = _LoopClients()
    return clients


def shared_http() -> httpx.AsyncClient:
    """The running loop's HTTP client, for calls made without the SDK (streaming)."""
    return _loop_clients().http


def shared_client(
    base_url: str, api_key: str, http: httpx.AsyncClient | None = None
) -> openai.AsyncOpenAI:
    """The SDK client for this endpoint and key on the running loop (created on first use).
    `http`: the HTTP client to send through instead of the shared one (it must live as long
    as the loop: a guarded client for user-given URLs, say)."""
    clients = _loop_clients()
    key = (base_url, api_key, id(http) if http is not None else 0)
    client = clients.sdk.get(key)
    if client is None:
        client = openai.AsyncOpenAI(
            base_url=base_url,
            # The SDK refuses an empty key; local servers (vLLM, Ollama) accept any.
            api_key=api_key or "EMPTY",
            max_retries=0,
            http_client=http or clients.http,
        )
        clients.sdk[key] = client
        if len(clients.sdk) > _MAX_SDK_CLIENTS:
            # The shared HTTP client stays open; the evicted wrapper holds nothing else.
            clients.sdk.popitem(last=False)
    else:
        clients.sdk.move_to_end(key)
    return client
