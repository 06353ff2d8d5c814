"""Shared fixtures: one real database per run (migrated once), clean tables per test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests import backends

backends.configure_environment()

import httpx  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from sqlalchemy import delete  # noqa: E402

from tiangong.app import create_app, lifespan  # noqa: E402
from tiangong.cache import close_cache, get_cache  # noqa: E402
from tiangong.cache.redis import RedisCache  # noqa: E402
from tiangong.config import get_settings  # noqa: E402
from tiangong.conversations.turns import drain as drain_turns  # noqa: E402
from tiangong.db import migrate  # noqa: E402
from tiangong.db.engine import dispose_engine, session_factory  # noqa: E402
from tiangong.db.registry import Base  # noqa: E402
from tiangong.llm_logs.recorder import flush as flush_llm_logs  # noqa: E402


def pytest_sessionstart(session: pytest.Session) -> None:
    asyncio.run(backends.create_database())
    migrate.upgrade()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    asyncio.run(backends.drop_database())


def pytest_report_header() -> str:
    return f"tiangong: database={backends.BACKEND} redis={'on' if backends.USE_REDIS else 'off'}"


@pytest.fixture(scope="session")
async def app() -> AsyncIterator[FastAPI]:
    application = create_app()
    async with lifespan(application):
        yield application
    await dispose_engine()


async def _clear_cache() -> None:
    cache = get_cache()
    if isinstance(cache, RedisCache):
        keys = [key async for key in cache.client.scan_iter(match=f"{cache.prefix}*", count=500)]
        if keys:
            await cache.client.delete(*keys)
    else:
        await close_cache()


# A test that hangs (a deadlock between tasks) fails after this long, printing every task's
# stack, instead of stalling the whole run until CI gives up.
HANG_S = float(os.environ.get("TIANGONG_TEST_HANG_S", "240"))


def _dump_tasks() -> None:
    import sys

    print(f"\n== test still running after {HANG_S:.0f} s; asyncio tasks:", file=sys.stderr)
    tests_dir = str(Path(__file__).parent)
    for task in asyncio.all_tasks():
        print(f"-- {task!r}", file=sys.stderr)
        task.print_stack(limit=25, file=sys.stderr)
        # Cancel the test's own tasks (the test body, its fixtures) so the hang becomes a failure.
        if any(frame.f_code.co_filename.startswith(tests_dir) for frame in task.get_stack()):
            task.cancel()


@pytest.fixture(autouse=True)
async def hang_watchdog() -> AsyncIterator[None]:
    handle = asyncio.get_running_loop().call_later(HANG_S, _dump_tasks)
    yield
    handle.cancel()


@pytest.fixture(autouse=True)
async def clean_state(hang_watchdog: None) -> AsyncIterator[None]:
    yield
    # Background work of the test (answers being saved, call logs) lands before the wipe.
    await drain_turns(grace_s=5)
    await flush_llm_logs()
    async with session_factory()() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))
        await session.commit()
    await _clear_cache()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def register(
    client: httpx.AsyncClient, email: str, nickname: str, password: str = "correct-horse-1"
) -> dict[str, str]:
    """Register and log in; returns the Authorization header."""
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "nickname": nickname}
    )
    assert response.status_code == 201, response.text
    response = await client.post(
        "/api/v1/auth/login", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def admin_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return await register(client, "admin@example.com", "admin")


@pytest.fixture
async def user_headers(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, str]:
    return await register(client, "alice@example.com", "alice")


@pytest.fixture
async def other_headers(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> dict[str, str]:
    return await register(client, "bob@example.com", "bob")


@pytest.fixture
def settings() -> Any:
    return get_settings()


FAKE_LLM_KEY = "sk-fake-0123456789abcdef"


@pytest.fixture(scope="session")
def fake_llm_server() -> Any:
    from tiangong.testing.fake_llm import FakeLLM

    server = FakeLLM(api_key=FAKE_LLM_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def fake_llm(fake_llm_server: Any) -> Any:
    fake_llm_server.reset()
    return fake_llm_server


@pytest.fixture(scope="session")
async def live_url(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real loopback socket (same event loop), for SSE and disconnect tests."""
    import socket

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def chat_model(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> dict[str, Any]:
    """A default model config (alias `worker`) for the `user_headers` user, on the fake LLM."""
    body = {
        "name": "fake",
        "alias": "worker",
        "base_url": fake_llm.base_url,
        "model_name": "fake-model",
        "api_key": FAKE_LLM_KEY,
        "is_default": True,
    }
    response = await client.post("/api/v1/model-configs", json=body, headers=user_headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """Split an SSE body into (event, data) pairs."""
    import json

    events = []
    for block in text.strip().split("\n\n"):
        name, data = "message", None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        events.append((name, data))
    return events
