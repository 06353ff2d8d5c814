"""Per-run overhead of the workflow engine against LangGraph, on the same graphs of no-op nodes.

    .venv/bin/python bench/workflow_engine.py [--runs N]

Graphs (every node does nothing, so a run's time is the engine's overhead):

- chain-3: three nodes in a row;
- fanout-5: one node, five parallel branches, one node joining them (7 nodes);
- chain-100: a hundred nodes in a row.

Tiangong runs them as `start -> no-op ... -> end` (its start and end nodes count among the
nodes, so both sides execute the same number of nodes), LangGraph as a `StateGraph` of async
no-op functions with the join as one edge from all five branches. Both run in this process,
in alternating batches so machine noise hits both alike, with no checkpointer; each run is
iterated to its end (`async for` over Tiangong's events, `ainvoke` for LangGraph). A third row
shows Tiangong with the in-memory checkpoint store, which copies every record it is given.

Prints mean and p50 microseconds per run and the ratio Tiangong / LangGraph (the target is at
most 0.5). LangGraph is a benchmark-only dependency: `.venv/bin/pip install langgraph`.

The `webhook` section (`--section webhook`) measures the whole platform over HTTP: it starts
`tiangong serve` (`--workers` uvicorn processes, default 1; SQLite in a temp data dir),
creates the workflow `start -> 3 no-op nodes -> end` and its webhook, then N concurrent
clients (`--webhook-clients`, default 16, each on its own keep-alive connection through a
minimal HTTP/1.1 client, see `bench/lean_http.py`) send signed sync webhook calls for a fixed
time. It prints executions per second (target: at least 200 on
2 cores) and p50/p99 latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypedDict

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.lean_http import LeanConnection  # noqa: E402
from tiangong.runtime.workflow import (
    MemoryCheckpointStore,
    Node,
    NodeConfig,
    NodeContext,
    NodeResult,
    WorkflowEngine,
    register_node,
)


class NoopConfig(NodeConfig):
    """No settings."""


@register_node("bench_noop")
class NoopNode(Node[NoopConfig]):
    Config = NoopConfig

    async def run(self, ctx: NodeContext, inputs: NoopConfig) -> NodeResult:
        return NodeResult()


Shape = tuple[list[str], list[tuple[str, str]]]


def chain(length: int) -> Shape:
    names = [f"n{i}" for i in range(length)]
    return names, list(zip(names, names[1:], strict=False))


def fan_out(width: int) -> Shape:
    branches = [f"b{i}" for i in range(width)]
    names = ["fork", *branches, "join"]
    edges = [("fork", b) for b in branches] + [(b, "join") for b in branches]
    return names, edges


GRAPHS: dict[str, Shape] = {
    "chain-3": chain(3),
    "fanout-5": fan_out(5),
    "chain-100": chain(100),
}


def tiangong_definition(shape: Shape) -> dict[str, Any]:
    names, edges = shape
    first, last = names[0], names[-1]
    nodes = []
    for name in names:
        kind = "start" if name == first else "end" if name == last else "bench_noop"
        nodes.append({"id": name, "type": kind, "config": {}})
    return {"nodes": nodes, "edges": [{"source": s, "target": t} for s, t in edges]}


Runner = Callable[[], Awaitable[None]]


def tiangong_runner(shape: Shape, *, checkpoint: bool = False) -> Runner:
    engine = WorkflowEngine(
        tiangong_definition(shape), checkpoint=MemoryCheckpointStore() if checkpoint else None
    )

    async def run() -> None:
        last = None
        async for event in engine.run({}):
            last = event
        assert last is not None and last.type == "run_finished", last

    return run


def langgraph_runner(shape: Shape) -> Runner:
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        value: int

    async def noop(state: State) -> dict[str, Any]:
        return {}

    names, edges = shape
    builder = StateGraph(State)
    for name in names:
        builder.add_node(name, noop)
    builder.add_edge(START, names[0])
    joins: dict[str, list[str]] = {}
    for source, target in edges:
        joins.setdefault(target, []).append(source)
    for target, sources in joins.items():
        builder.add_edge(sources if len(sources) > 1 else sources[0], target)
    builder.add_edge(names[-1], END)
    graph = builder.compile()
    config: Any = {"recursion_limit": len(names) + 10}

    async def run() -> None:
        await graph.ainvoke({"value": 0}, config)

    return run


async def measure(runner: Runner, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await runner()
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


async def bench(name: str, shape: Shape, runs: int, batches: int, have_langgraph: bool) -> None:
    sides: dict[str, Runner] = {
        "tiangong": tiangong_runner(shape),
        "tiangong+memory-checkpoint": tiangong_runner(shape, checkpoint=True),
    }
    if have_langgraph:
        sides["langgraph"] = langgraph_runner(shape)
    samples: dict[str, list[float]] = {side: [] for side in sides}
    for runner in sides.values():  # warm-up: imports, caches, first-call costs
        await measure(runner, max(runs // 20, 5))
    for _ in range(batches):
        for side, runner in sides.items():
            samples[side] += await measure(runner, runs // batches)
    print(f"\n{name} ({len(shape[0])} nodes, {runs} runs per side)")
    print(f"  {'engine':<28}{'mean µs':>10}{'p50 µs':>10}")
    for side, values in samples.items():
        print(f"  {side:<28}{statistics.fmean(values):>10.1f}{statistics.median(values):>10.1f}")
    if have_langgraph:
        ours, theirs = samples["tiangong"], samples["langgraph"]
        mean_ratio = statistics.fmean(ours) / statistics.fmean(theirs)
        p50_ratio = statistics.median(ours) / statistics.median(theirs)
        verdict = "meets" if p50_ratio <= 0.5 and mean_ratio <= 0.5 else "MISSES"
        print(
            f"  ratio tiangong/langgraph: mean {mean_ratio:.3f}, p50 {p50_ratio:.3f}"
            f"  ({verdict} the target of at most 0.5)"
        )


# --- webhook -> 3 no-op nodes -> response, over HTTP ---------------------------------------


def webhook_definition() -> dict[str, Any]:
    """start -> a -> b -> c -> end; `variable_assign` with nothing to assign is the cheapest
    node the platform ships."""
    names = ["start", "a", "b", "c", "end"]
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "start", "config": {"inputs": [{"name": "n"}]}},
        *({"id": n, "type": "variable_assign", "config": {}} for n in names[1:4]),
        {"id": "end", "type": "end", "config": {"outputs": {"n": "{{start.n}}"}}},
    ]
    edges = [{"source": s, "target": t} for s, t in zip(names, names[1:], strict=False)]
    return {"nodes": nodes, "edges": edges}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start_server(data_dir: str, port: int, workers: int) -> asyncio.subprocess.Process:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TIANGONG_")  # nothing from the caller's setup leaks in
    }
    env.update(TIANGONG_DATA_DIR=data_dir, TIANGONG_LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "tiangong.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    server = await asyncio.create_subprocess_exec(*command, env=env, cwd=data_dir)
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                    return server
            await asyncio.sleep(0.1)
    server.terminate()
    raise RuntimeError("the server did not start")


async def _setup(http: httpx.AsyncClient) -> tuple[str, str]:
    """A user, the workflow and its webhook; returns (trigger path, secret)."""
    account = {"email": "bench@example.com", "password": "bench-password-1", "nickname": "bench"}
    (await http.post("/api/v1/auth/register", json=account)).raise_for_status()
    login = await http.post(
        "/api/v1/auth/login", data={"username": account["email"], "password": account["password"]}
    )
    login.raise_for_status()
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    body = {"name": "bench-webhook", "definition": webhook_definition()}
    created = await http.post("/api/v1/workflows", json=body, headers=auth)
    created.raise_for_status()
    workflow_id = created.json()["id"]
    hook = await http.post(f"/api/v1/workflows/{workflow_id}/webhook", headers=auth)
    hook.raise_for_status()
    return f"/api/v1/webhooks/{workflow_id}", hook.json()["secret"]


async def _client(port: int, path: str, secret: str, until: float, latencies: list[float]) -> int:
    http = LeanConnection("127.0.0.1", port)
    try:
        return await _send_until(http, path, secret, until, latencies)
    finally:
        await http.close()


async def _send_until(
    http: LeanConnection, path: str, secret: str, until: float, latencies: list[float]
) -> int:
    failures = 0
    counter = 0
    while time.perf_counter() < until:
        counter += 1
        body = json.dumps({"n": str(counter)}).encode()
        timestamp = str(int(time.time()))
        digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        headers = {
            "X-Tiangong-Timestamp": timestamp,
            "X-Tiangong-Signature": f"sha256={digest.hexdigest()}",
            "Content-Type": "application/json",
        }
        started = time.perf_counter()
        try:
            status, answer = await http.post(path, body, headers)
        except (OSError, asyncio.IncompleteReadError):  # the server dropped the connection
            await http.close()
            failures += 1
            continue
        elapsed = time.perf_counter() - started
        if status == 200 and json.loads(answer)["status"] == "succeeded":
            latencies.append(elapsed)
        else:
            failures += 1
    return failures


async def webhook_bench(seconds: float, clients: int, workers: int) -> None:
    print(f"\nwebhook -> 3 no-op nodes -> response (HTTP, SQLite, {workers} uvicorn worker(s))")
    with tempfile.TemporaryDirectory(prefix="tiangong-bench-") as data_dir:
        port = _free_port()
        server = await _start_server(data_dir, port, workers)
        try:
            limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
            ) as http:
                path, secret = await _setup(http)
                warm: list[float] = []  # first calls: imports, caches, connection setup
                await asyncio.gather(
                    *(
                        _client(port, path, secret, time.perf_counter() + 2, warm)
                        for _ in range(clients)
                    )
                )
                latencies: list[float] = []
                started = time.perf_counter()
                failures = await asyncio.gather(
                    *(
                        _client(port, path, secret, started + seconds, latencies)
                        for _ in range(clients)
                    )
                )
                wall = time.perf_counter() - started
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), timeout=30)
    rate = len(latencies) / wall
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2] * 1000 if ordered else float("nan")
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else 0.0
    verdict = "meets" if rate >= 200 else "MISSES"
    print(f"  clients {clients}, {wall:.1f} s, {len(latencies)} runs, {sum(failures)} failed")
    print(f"  {rate:.1f} executions/s ({verdict} the target of at least 200)")
    print(f"  latency p50 {p50:.1f} ms, p99 {p99:.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs per side and graph")
    parser.add_argument("--batches", type=int, default=4, help="alternating batches")
    parser.add_argument("--section", choices=("engine", "webhook", "all"), default="all")
    parser.add_argument("--webhook-seconds", type=float, default=15, help="measured time")
    parser.add_argument("--webhook-clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    if args.section in ("webhook", "all"):
        await webhook_bench(args.webhook_seconds, args.webhook_clients, args.workers)
    if args.section == "webhook":
        return
    try:
        import langgraph  # noqa: F401

        have_langgraph = True
    except ImportError:
        have_langgraph = False
        print("LangGraph is not installed (pip install langgraph): printing Tiangong only.")
    for name, shape in GRAPHS.items():
        runs = args.runs if len(shape[0]) < 50 else max(args.runs // 10, 20)
        await bench(name, shape, runs, args.batches, have_langgraph)


if __name__ == "__main__":
    asyncio.run(main())
