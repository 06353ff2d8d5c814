"""What the platform adds to a streamed chat, against the same stream straight from the model.

    .venv/bin/python bench/chat_overhead.py [--quick] [--redis]

Starts the fake LLM and `tiangong serve` (SQLite in a temp dir) as subprocesses on loopback
ports, then for each concurrency level streams the same scripted reply two ways, in alternating
batches so machine noise hits both sides alike:

- baseline: `POST /v1/chat/completions` (stream=true) straight to the fake LLM;
- platform: `POST /api/v1/agent-chat/bare/stream`, through auth, history persistence and all.

Per request it records the time to the first content chunk (TTFT), the time to the end of the
stream (`[DONE]` / the `done` event) and the number of content chunks, then prints p50/p99 of
both sides, the added latency, the ratio, chunks per second, and whether chunks were relayed
one for one. A paced probe (a delay between model chunks) checks that the platform does not
buffer. Both subprocesses and the temp dir are removed on exit, Ctrl-C and errors included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
REDIS_URL = "redis://127.0.0.1:6379/0"
FAKE_KEY = "sk-bench-0123456789abcdef"
MODEL = "fake-model"

CHUNK_SIZE = 4
CHUNKS = 64
CONTENT = ("The quick brown fox jumps over the lazy dog. " * 8)[: CHUNK_SIZE * CHUNKS]
PROBE_WORD = "pace-probe"  # messages containing it get the paced reply
PROBE_CHUNKS = 10
PROBE_DELAY_MS = 20.0
REQUEST_TIMEOUT_S = 120.0

# (concurrency, requests per side, batches per side): batches alternate baseline/platform.
FULL_PLAN = [(1, 200, 4), (50, 500, 4), (200, 800, 2)]
QUICK_PLAN = [(1, 60, 2), (20, 100, 2)]


@dataclass
class Sample:
    ttft_ms: float | None = None
    total_ms: float | None = None
    chunks: int = 0
    text: str = ""
    error: str | None = None
    arrivals_ms: list[float] = field(default_factory=list)


@dataclass
class Side:
    name: str
    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None and s.total_ms is not None]


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Processes:
    """Children in their own process group, so Ctrl-C reaches only us and we stop them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=self.workdir,  # no stray .env file is picked up
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append((name, proc, log_path))
        return proc

    def check_alive(self) -> None:
        for name, proc, _ in self.children:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode} (its log is above)")

    def print_logs(self) -> None:
        for name, _, log_path in self.children:
            tail = log_path.read_text(errors="replace")[-3000:].strip()
            if tail:
                print(f"--- {name} log (tail) ---\n{tail}", file=sys.stderr)

    def stop_all(self) -> None:
        for _, proc, _ in reversed(self.children):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for _, proc, _ in reversed(self.children):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=5)
        self.children.clear()


def wait_until_up(procs: Processes, url: str, headers: dict[str, str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while True:
            procs.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url, headers=headers).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up within {timeout_s:.0f} s")
            time.sleep(0.1)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    # Only our own TIANGONG_* settings: a stray DATABASE_URL or LLM_* must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIANGONG_")}
    env.update(extra)
    return env


def start_fake(procs: Processes) -> str:
    port = free_port()
    argv = [sys.executable, "-m", "tiangong.testing.fake_llm", "--host", HOST]
    argv += ["--port", str(port), "--api-key", FAKE_KEY, "--chunk-size", str(CHUNK_SIZE)]
    procs.start("fake_llm", argv, child_env({}))
    url = f"http://{HOST}:{port}"
    wait_until_up(procs, f"{url}/v1/models", {"Authorization": f"Bearer {FAKE_KEY}"}, 30)
    replies = [
        {
            "content": "p" * (CHUNK_SIZE * PROBE_CHUNKS),
            "chunk_size": CHUNK_SIZE,
            "delay_ms": PROBE_DELAY_MS,
            "times": 1_000_000,
            "match": PROBE_WORD,
        },
        {"content": CONTENT, "chunk_size": CHUNK_SIZE, "delay_ms": 0, "times": 1_000_000_000},
    ]
    httpx.post(f"{url}/_script", json=replies, timeout=10).raise_for_status()
    return url


def start_platform(
    procs: Processes, data_dir: Path, cache_prefix: str | None
) -> tuple[str, dict[str, Any]]:
    port = free_port()
    extra = {"TIANGONG_DATA_DIR": str(data_dir), "TIANGONG_LOG_LEVEL": "WARNING"}
    # The bench user's own model config points at the fake LLM on loopback, as a local
    # Ollama would be: an admin opens such an address for users' configs.
    extra["TIANGONG_LLM_ALLOWLIST"] = f'["{HOST}"]'
    if cache_prefix is not None:
        extra["TIANGONG_REDIS_URL"] = REDIS_URL
        extra["TIANGONG_CACHE_PREFIX"] = cache_prefix
    argv = [str(VENV_BIN / "tiangong"), "serve", "--host", HOST, "--port", str(port)]
    procs.start("platform", argv, child_env(extra))
    url = f"http://{HOST}:{port}"
    wait_until_up(procs, f"{url}/health", {}, 90)
    health = httpx.get(f"{url}/health", timeout=10).json()
    if health["database"]["backend"] != "sqlite" or health["status"] != "ok":
        raise RuntimeError(f"the platform is not healthy on SQLite: {health}")
    if health["cache"]["backend"] != ("redis" if cache_prefix else "memory"):
        raise RuntimeError(f"the platform runs an unexpected cache: {health}")
    return url, health


def drop_cache_keys(prefix: str) -> None:
    """Remove what this run left in Redis (history entries live for a day otherwise)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])
    except redis.RedisError as exc:
        print(f"could not remove the bench's Redis keys ({prefix}*): {exc}", file=sys.stderr)
    finally:
        client.close()


def platform_token(platform: str, fake: str) -> str:
    """Register, log in, and make the fake LLM this user's default model."""
    email, password = "bench@example.com", uuid.uuid4().hex
    with httpx.Client(base_url=platform, timeout=30) as client:
        body = {"email": email, "password": password, "nickname": "bench"}
        client.post("/api/v1/auth/register", json=body).raise_for_status()
        login = client.post("/api/v1/auth/login", data={"username": email, "password": password})
        login.raise_for_status()
        token = str(login.json()["access_token"])
        config = {
            "name": "fake",
            "provider": "openai_compatible",
            "base_url": f"{fake}/v1",
            "model_name": MODEL,
            "api_key": FAKE_KEY,
            "is_default": True,
        }
        headers = {"Authorization": f"Bearer {token}"}
        client.post("/api/v1/model-configs", json=config, headers=headers).raise_for_status()
    return token


# ---------------------------------------------------------------- one request


async def baseline_once(client: httpx.AsyncClient, message: str) -> Sample:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": message}],
        "stream": True,
        # The platform asks for usage too, so both sides get the same frames.
        "stream_options": {"include_usage": True},
    }
    sample, parts = Sample(), []
    started = time.perf_counter()
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                await response.aread()
                sample.error = f"HTTP {response.status_code}"
                return sample
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                payload = line[6:]
                if payload == "[DONE]":
                    sample.total_ms = (time.perf_counter() - started) * 1000
                    break
                choices = json.loads(payload).get("choices") or []
                text = choices[0]["delta"].get("content") if choices else None
                if text:
                    now = (time.perf_counter() - started) * 1000
                    if sample.ttft_ms is None:
                        sample.ttft_ms = now
                    sample.arrivals_ms.append(now)
                    sample.chunks += 1
                    parts.append(text)
    except httpx.HTTPError as exc:
        sample.error = type(exc).__name__
    sample.text = "".join(parts)
    if sample.total_ms is None and sample.error is None:
        sample.error = "no [DONE]"
    return sample


async def platform_once(client: httpx.AsyncClient, message: str) -> Sample:
    sample, parts = Sample(), []
    event = "message"
    started = time.perf_counter()
    try:
        async with client.stream(
            "POST", "/api/v1/agent-chat/bare/stream", json={"message": message}
        ) as response:
            if response.status_code != 200:
                await response.aread()
                sample.error = f"HTTP {response.status_code}"
                return sample
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    if event == "token":
                        now = (time.perf_counter() - started) * 1000
                        if sample.ttft_ms is None:
                            sample.ttft_ms = now
                        sample.arrivals_ms.append(now)
                        sample.chunks += 1
                        parts.append(json.loads(line[6:])["text"])
                    elif event == "done":
                        sample.total_ms = (time.perf_counter() - started) * 1000
                        break
                    elif event == "error":
                        sample.error = "error event: " + line[6:200]
                        break
    except httpx.HTTPError as exc:
        sample.error = type(exc).__name__
    sample.text = "".join(parts)
    if sample.total_ms is None and sample.error is None:
        sample.error = "no done event"
    return sample


# ---------------------------------------------------------------- batches


async def run_batch(
    client: httpx.AsyncClient, platform: bool, requests: int, concurrency: int, side: Side
) -> None:
    """`requests` streams with at most `concurrency` in flight (a closed loop of workers)."""
    once = platform_once if platform else baseline_once
    remaining = iter(range(requests))

    async def worker() -> None:
        for i in remaining:
            side.samples.append(await once(client, f"bench message {i}"))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, requests))))
    side.wall_s += time.perf_counter() - started


def split(total: int, parts: int) -> Iterator[int]:
    for i in range(parts):
        yield total // parts + (1 if i < total % parts else 0)


async def run_level(
    clients: dict[str, httpx.AsyncClient], concurrency: int, requests: int, batches: int
) -> tuple[Side, Side]:
    base, plat = Side("baseline"), Side("platform")
    for i, size in enumerate(split(requests, batches)):
        order = [False, True] if i % 2 == 0 else [True, False]  # ABBA
        for is_platform in order:
            client = clients["platform" if is_platform else "baseline"]
            await run_batch(client, is_platform, size, concurrency, plat if is_platform else base)
    return base, plat


# ---------------------------------------------------------------- figures


def pct(values: list[float], q: float) -> float:
    """Percentile with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def report(concurrency: int, base: Side, plat: Side) -> list[str]:
    lines = [
        f"concurrency {concurrency}: {len(base.ok)}/{len(base.samples)} baseline, "
        f"{len(plat.ok)}/{len(plat.samples)} platform streams ok",
    ]
    for side in (base, plat):
        errors: dict[str, int] = {}
        for s in side.samples:
            if s.error is not None:
                errors[s.error] = errors.get(s.error, 0) + 1
        if errors:
            lines.append(f"  {side.name} errors: {errors}")
    header = f"  {'ms':<12}{'baseline':>10}{'platform':>10}{'added':>10}{'ratio':>8}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for metric in ("ttft", "total"):
        b = [v for s in base.ok if (v := getattr(s, f"{metric}_ms")) is not None]
        p = [v for s in plat.ok if (v := getattr(s, f"{metric}_ms")) is not None]
        for q in (50, 99):
            bq, pq = pct(b, q), pct(p, q)
            ratio = pq / bq if bq else math.nan
            label = f"{metric.upper()} p{q}"
            lines.append(f"  {label:<12}{bq:>10.1f}{pq:>10.1f}{pq - bq:>+10.1f}{ratio:>7.1f}x")
    rates = []
    for side in (base, plat):
        chunks = sum(s.chunks for s in side.ok)
        rates.append(chunks / side.wall_s if side.wall_s else math.nan)
    lines.append(
        f"  chunks/s    {rates[0]:>10.0f}{rates[1]:>10.0f}"
        f"{'':>10}{rates[1] / rates[0] if rates[0] else math.nan:>7.2f}x"
    )
    base_counts = {s.chunks for s in base.ok}
    plat_counts = {s.chunks for s in plat.ok}
    wrong = sum(1 for s in base.ok + plat.ok if s.text != CONTENT)
    one_for_one = base_counts == plat_counts == {CHUNKS} and wrong == 0
    lines.append(
        f"  relayed one for one: {'yes' if one_for_one else 'NO'} "
        f"(content chunks per stream: baseline {sorted(base_counts)}, "
        f"platform {sorted(plat_counts)}; texts differing from the script: {wrong})"
    )
    return lines


async def probe(clients: dict[str, httpx.AsyncClient]) -> list[str]:
    """A reply paced at PROBE_DELAY_MS per chunk: a buffering relay would bunch the tokens."""
    lines = [
        f"buffering probe: {PROBE_CHUNKS} chunks, {PROBE_DELAY_MS:.0f} ms apart at the model, "
        "3 streams per side"
    ]
    for name, once in (("baseline", baseline_once), ("platform", platform_once)):
        gaps: list[float] = []
        counts = []
        for i in range(3):
            sample = await once(clients[name], f"{PROBE_WORD} {i}")
            if sample.error:
                lines.append(f"  {name}: {sample.error}")
                continue
            counts.append(sample.chunks)
            arrivals = sample.arrivals_ms
            gaps += [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
        spread = sum(1 for g in gaps if g >= PROBE_DELAY_MS / 2)
        lines.append(
            f"  {name}: chunks per stream {counts}, gap between chunks p50 {pct(gaps, 50):.1f} ms "
            f"min {min(gaps, default=math.nan):.1f} ms, {spread}/{len(gaps)} gaps >= "
            f"{PROBE_DELAY_MS / 2:.0f} ms"
        )
    return lines


async def bench(fake: str, platform: str, token: str, plan: list[tuple[int, int, int]]) -> None:
    top = max(c for c, _, _ in plan)
    limits = httpx.Limits(max_connections=top, max_keepalive_connections=top)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S, connect=30.0, pool=REQUEST_TIMEOUT_S)
    async with (
        httpx.AsyncClient(
            base_url=fake,
            limits=limits,
            timeout=timeout,
            headers={"Authorization": f"Bearer {FAKE_KEY}"},
        ) as direct,
        httpx.AsyncClient(
            base_url=platform,
            limits=limits,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
        ) as via,
    ):
        clients = {"baseline": direct, "platform": via}
        started = time.perf_counter()
        await run_level(clients, concurrency=4, requests=40, batches=2)  # discarded
        print(
            f"warm-up: 40 streams per side at concurrency 4 ({time.perf_counter() - started:.1f} s)"
        )
        print(
            f"reply: {CHUNKS} content chunks of {CHUNK_SIZE} characters, no delay; "
            "times in ms, added = platform - baseline, ratio = platform / baseline\n",
            flush=True,
        )
        for concurrency, requests, batches in plan:
            started = time.perf_counter()
            # Open the level's connections first, so no side pays for them in its figures.
            await run_level(clients, concurrency, max(10, concurrency), 1)  # discarded
            base, plat = await run_level(clients, concurrency, requests, batches)
            for line in report(concurrency, base, plat):
                print(line)
            print(f"  ({time.perf_counter() - started:.1f} s)\n", flush=True)
        for line in await probe(clients):
            print(line)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="concurrency 1 and 20, fewer streams")
    parser.add_argument("--redis", action="store_true", help="cache in Redis on 127.0.0.1:6379")
    args = parser.parse_args()
    plan = QUICK_PLAN if args.quick else FULL_PLAN

    # SIGTERM takes the same cleanup path as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.perf_counter()
    prefix = f"bench-{uuid.uuid4().hex[:12]}:" if args.redis else None
    with tempfile.TemporaryDirectory(prefix="tiangong-bench-") as tmp:
        procs = Processes(Path(tmp))
        try:
            fake = start_fake(procs)
            platform, health = start_platform(procs, Path(tmp) / "data", prefix)
            token = platform_token(platform, fake)
            print(
                f"chat overhead: fake LLM {fake}, platform {platform} "
                f"(database {health['database']['backend']}, cache {health['cache']['backend']}), "
                f"python {sys.version.split()[0]}, {os.cpu_count()} cpus"
            )
            asyncio.run(bench(fake, platform, token, plan))
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        except Exception:
            procs.print_logs()
            raise
        finally:
            procs.stop_all()
            if prefix is not None:
                drop_cache_keys(prefix)
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
