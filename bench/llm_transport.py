"""What the HTTP client costs a streamed completion: `tiangong.runtime.llm.sse.open_stream` over
the lean client (`runtime/llm/lean_http.py`, the default) against the same call over the shared
httpx client (the path taken when a proxy is configured), in the same process and run.

Starts the fake LLM as a subprocess on loopback; sends streamed requests one at a time,
alternating the two clients, each on its own kept-alive connection; prints p50/p99 of the time
to the first parsed chunk and of the whole stream, and the ratio lean / httpx.

    .venv/bin/python bench/llm_transport.py [--requests N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx2
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.chat_overhead import CHUNKS, FAKE_KEY, MODEL, Processes, start_fake  # noqa: E402
from tiangong.runtime.llm import sse  # noqa: E402

Opener = Callable[[str, str, dict[str, Any], Any], AbstractAsyncContextManager[Any]]


def _httpx_opener(url: str, key: str, body: dict[str, Any], timeouts: Any) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    return sse._httpx_stream(f"{url}/chat/completions", headers, body, timeouts)


async def one(open_stream: Opener, url: str, body: dict[str, Any]) -> tuple[float, float, int]:
    timeouts = httpx2.Timeout(30.0, connect=10.0)
    started = time.perf_counter()
    first = 0.0
    count = 0
    async with open_stream(url, FAKE_KEY, body, timeouts) as response:
        stream: AsyncIterator[dict[str, Any]] = sse.chunks(response)
        async for chunk in stream:
            if not count:
                first = time.perf_counter() - started
            count += sum(1 for _ in sse.chunk_deltas(chunk))
    return first * 1e3, (time.perf_counter() - started) * 1e3, count


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(url: str, requests: int) -> None:
    body = sse.stream_body({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    sides: dict[str, Opener] = {"lean": sse.open_stream, "httpx": _httpx_opener}
    samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in sides}
    for _ in range(50):  # warm-up: connections open, code paths hot
        for opener in sides.values():
            await one(opener, url, body)
    for i in range(requests):
        # ABBA, so neither side always goes first.
        order = list(sides.items()) if i % 2 == 0 else list(sides.items())[::-1]
        for name, opener in order:
            samples[name].append(await one(opener, url, body))
    print(f"{requests} streamed requests per client, one at a time; times in ms")
    print(f"  {'':12}{'lean':>10}{'httpx':>10}{'ratio':>10}")
    for label, index, q in [("TTFT p50", 0, 0.5), ("TTFT p99", 0, 0.99)] + [
        ("TOTAL p50", 1, 0.5),
        ("TOTAL p99", 1, 0.99),
    ]:
        lean = pct([s[index] for s in samples["lean"]], q)
        other = pct([s[index] for s in samples["httpx"]], q)
        print(f"  {label:12}{lean:10.3f}{other:10.3f}{lean / other:9.2f}x")
    deltas = {name: statistics.mode(s[2] for s in v) for name, v in samples.items()}
    print(f"  deltas per stream: {deltas} (the fake sends {CHUNKS} content chunks and a finish)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiangong-bench-") as tmp:
        procs = Processes(Path(tmp))
        try:
            fake = start_fake(procs)
            print(f"llm transport: fake LLM {fake}, python {sys.version.split()[0]}")
            uvloop.run(bench(f"{fake}/v1", args.requests))
        finally:
            procs.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
