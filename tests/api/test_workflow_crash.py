"""Kill the worker in the middle of a run: the real server runs as a subprocess, is SIGKILLed
while a node is in flight, and a new server finishes the run from its checkpoint without
running again any node that was recorded as succeeded."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
NODES = ("a", "b", "slow", "c")


class Counted:
    """A loopback endpoint that counts calls per node; the first call of `slow` hangs, so the
    server can be killed while that node is in flight."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.server = LoopbackServer([Route("/count/{name}", self._count)])

    async def _count(self, request: Request) -> JSONResponse:
        name = request.path_params["name"]
        self.calls[name] += 1
        if name == "slow" and self.calls[name] == 1:
            await asyncio.sleep(30)
        return JSONResponse({"name": name, "n": self.calls[name]})


@pytest.fixture
def counted() -> Iterator[Counted]:
    counter = Counted()
    counter.server.start()
    yield counter
    counter.server.stop()


def _graph(base: str) -> dict[str, Any]:
    def call(node: str) -> dict[str, Any]:
        url = f"{base}/count/{node}"
        return {"id": node, "type": "http_request", "config": {"url": url}}

    order = ["start", *NODES, "end"]
    end_outputs = {node: f"{{{{{node}.json.n}}}}" for node in NODES}
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            *(call(node) for node in NODES),
            {"id": "end", "type": "end", "config": {"outputs": end_outputs}},
        ],
        "edges": [{"source": s, "target": t} for s, t in zip(order, order[1:], strict=False)],
    }


class Server:
    """`tiangong serve` in its own process group, on the test run's database and data dir."""

    def __init__(self, port: int, log: Path) -> None:
        env = dict(os.environ)
        env.update(
            TIANGONG_WORKFLOW_HEARTBEAT_S="0.5",
            TIANGONG_WORKFLOW_STALE_AFTER_S="2",
            TIANGONG_HTTP_ALLOWLIST='["127.0.0.1/32"]',
        )
        command = [sys.executable, "-m", "tiangong.cli", "serve"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--no-migrate"]
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            command,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.url) as http:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, "the server exited"
                try:
                    if (await http.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _login(http: httpx.AsyncClient) -> dict[str, str]:
    account = {"email": "crash@example.com", "password": "correct-horse-1", "nickname": "crash"}
    response = await http.post("/api/v1/auth/register", json=account)
    assert response.status_code == 201, response.text
    form = {"username": account["email"], "password": account["password"]}
    response = await http.post("/api/v1/auth/login", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _until(
    http: httpx.AsyncClient, headers: dict[str, str], run_id: str, done: Any, timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = await http.get(f"/api/v1/executions/{run_id}", headers=headers)
        assert response.status_code == 200, response.text
        run = dict(response.json())
        if done(run):
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not get there: {run}")


def _succeeded(run: dict[str, Any]) -> set[str]:
    return {node["node_id"] for node in run["nodes"] if node["status"] == "succeeded"}


async def test_a_killed_worker_run_completes_from_its_checkpoint_after_restart(
    counted: Counted,
) -> None:
    log = Path(tempfile.mkdtemp(prefix="tiangong-crash-")) / "server.log"
    port = _free_port()
    first = Server(port, log)
    second: Server | None = None
    try:
        await first.ready()
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            headers = await _login(http)
            body = {"name": "crash", "definition": _graph(counted.server.url)}
            response = await http.post("/api/v1/workflows", json=body, headers=headers)
            assert response.status_code == 201, response.text
            response = await http.post(
                f"/api/v1/workflows/{response.json()['id']}/execute",
                json={"mode": "async"},
                headers=headers,
            )
            assert response.status_code in (200, 202), response.text
            run_id = response.json()["id"]
            before = await _until(
                http,
                headers,
                run_id,
                lambda run: {"a", "b"} <= _succeeded(run) and counted.calls["slow"] == 1,
                timeout_s=60,
            )
        first.kill()
        # What the checkpoint held when the worker died: the in-flight node is not done.
        recorded = _succeeded(before)
        assert recorded >= {"start", "a", "b"} and "slow" not in recorded
        assert before["status"] == "running"

        second = Server(port, log)
        await second.ready()
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as http:
            final = await _until(
                http,
                headers,
                run_id,
                lambda run: run["status"] in ("succeeded", "failed", "cancelled"),
                timeout_s=90,
            )
        assert final["status"] == "succeeded", (final, log.read_text()[-3000:])
        # Nodes recorded as succeeded before the kill ran once; the one in flight ran again.
        assert counted.calls == {"a": 1, "b": 1, "slow": 2, "c": 1}
        assert final["outputs"] == {"a": 1, "b": 1, "slow": 2, "c": 1}
        for node in before["nodes"]:
            if node["status"] == "succeeded":
                after = next(n for n in final["nodes"] if n["node_id"] == node["node_id"])
                assert after["finished_at"] == node["finished_at"], (node, after)
    finally:
        first.stop()
        if second is not None:
            second.stop()
