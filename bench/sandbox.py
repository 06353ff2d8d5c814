"""What the bubblewrap sandbox costs per run, against a plain subprocess of the same code.

    .venv/bin/python bench/sandbox.py [--runs 50] [--throughput-runs 100] [--quick]

Both sides run the same small snippet (`def main(x): return {"y": x * 2}`) with the same
interpreter, inputs in as JSON and the result out as JSON:

- sandboxed: `SandboxRunner.run("python", ...)`: a fresh bwrap sandbox per run (namespaces,
  seccomp, rlimits, the harness's init + child), exactly what the platform does;
- plain: `python -I -S -B -c <stub>` (the sandbox's flags) started with asyncio's subprocess
  API in a new session (as bwrap is) with the sandbox's minimal environment, reading the
  inputs from stdin and printing the result, with no isolation at all.

It prints cold-start latency (p50/p99 over `--runs` sequential runs), throughput (runs/s over
`--throughput-runs` runs at concurrency 2 and 8), the ratios, and the same latency for
JavaScript (Node) when it is installed. Sides alternate in small batches so machine noise
hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tiangong.runtime.sandbox import SandboxRunner  # noqa: E402

SNIPPET = "def main(x):\n    return {'y': x * 2}\n"
JS_SNIPPET = "function main(inputs) {\n  return {y: inputs.x * 2};\n}\n"

PLAIN_PY_STUB = (
    "import json, sys\n"
    "inputs = json.loads(sys.stdin.read())\n"
    "ns = {}\n"
    f"exec({SNIPPET!r}, ns)\n"
    "print(json.dumps({'ok': True, 'result': ns['main'](**inputs)}))\n"
)
PLAIN_JS_STUB = (
    "const inputs = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
    f"{JS_SNIPPET}"
    "console.log(JSON.stringify({ok: true, result: main(inputs)}));\n"
)

PLAIN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"}

Run = Callable[[int], Awaitable[None]]
ROUNDS = 4


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


async def plain_run(argv: list[str], x: int) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Like the sandbox (bwrap is started in a new session): with sched_autogroup each
        # session is its own scheduling group, so leaving this out skews busy machines.
        start_new_session=True,
        # The sandbox's environment, not the host's (NODE_EXTRA_CA_CERTS & co. cost time).
        env=PLAIN_ENV,
    )
    stdout, stderr = await process.communicate(json.dumps({"x": x}).encode())
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    if process.returncode != 0 or result["result"] != {"y": x * 2}:
        raise RuntimeError(f"plain run failed: {stderr.decode()[-300:]}")


def sandbox_runner(runner: SandboxRunner, language: str, code: str) -> Run:
    async def run(x: int) -> None:
        result = await runner.run(language, code, inputs={"x": x}, timeout_s=30)
        if not result.ok or result.result != {"y": x * 2}:
            raise RuntimeError(f"sandboxed run failed: {result}")

    return run


async def latencies(sides: dict[str, Run], runs: int, batch: int = 5) -> dict[str, list[float]]:
    """Sequential runs, alternating sides every `batch` runs."""
    samples: dict[str, list[float]] = {name: [] for name in sides}
    done = 0
    while done < runs:
        step = min(batch, runs - done)
        for name, run in sides.items():
            for i in range(step):
                started = time.perf_counter()
                await run(done + i)
                samples[name].append((time.perf_counter() - started) * 1000)
        done += step
    return samples


async def throughput(run: Run, runs: int, concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with semaphore:
            await run(i)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(runs)))
    return runs / (time.perf_counter() - started)


def bwrap_version() -> str:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "not installed"
    out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or out.stderr.strip()


def print_latency(title: str, samples: dict[str, list[float]]) -> None:
    sandboxed, plain = samples["sandboxed"], samples["plain"]
    print(f"\n{title} ({len(sandboxed)} sequential runs each)")
    print(f"  {'':10} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9}")
    for name, values in samples.items():
        print(
            f"  {name:10} {percentile(values, 50):9.1f} {percentile(values, 99):9.1f} "
            f"{statistics.fmean(values):9.1f}"
        )
    p50_s, p50_p = percentile(sandboxed, 50), percentile(plain, 50)
    p99_ratio = percentile(sandboxed, 99) / percentile(plain, 99)
    print(
        f"  sandbox adds {p50_s - p50_p:.1f} ms at p50 "
        f"(x{p50_s / p50_p:.2f}); p99 ratio x{p99_ratio:.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="sequential runs per side")
    parser.add_argument("--throughput-runs", type=int, default=100, help="runs per level")
    parser.add_argument("--quick", action="store_true", help="10 runs / 20 runs")
    args = parser.parse_args()
    runs = 10 if args.quick else args.runs
    throughput_runs = 20 if args.quick else args.throughput_runs

    runner = SandboxRunner(max_output_bytes=1 << 20)
    if not runner.available():
        raise SystemExit(f"no sandbox here: {runner.unavailable_reason}")
    argv = runner.build_run_command("python")
    python = argv[argv.index("--") + 1]
    print("Sandbox benchmark")
    print(f"  host: {platform.platform()}, {os.cpu_count()} CPUs, runner uid {os.geteuid()}")
    print(f"  {bwrap_version()}; interpreter {python} (Python {platform.python_version()})")
    print(f"  process limit enforced: {runner.process_limit_enforced}")
    print("  snippet: def main(x): return {'y': x * 2}   (inputs/result as JSON)")

    sandboxed = sandbox_runner(runner, "python", SNIPPET)
    plain_argv = [python, "-I", "-S", "-B", "-c", PLAIN_PY_STUB]

    async def plain(x: int) -> None:
        await plain_run(plain_argv, x)

    sides: dict[str, Run] = {"sandboxed": sandboxed, "plain": plain}
    await latencies(sides, 4, batch=2)  # warm the page cache and the probe
    print_latency("Python cold start", await latencies(sides, runs))

    print(f"\nPython throughput ({throughput_runs} runs per level and side, {ROUNDS} rounds)")
    print(f"  {'concurrency':>11} {'sandboxed/s':>12} {'plain/s':>9} {'ratio':>7}")
    for concurrency in (2, 8):
        measured: dict[str, list[float]] = {"sandboxed": [], "plain": []}
        for _ in range(ROUNDS):  # alternate sides; report the median round
            for name in ("sandboxed", "plain"):
                share = max(concurrency, throughput_runs // ROUNDS)
                measured[name].append(await throughput(sides[name], share, concurrency))
        rates = {name: statistics.median(values) for name, values in measured.items()}
        print(
            f"  {concurrency:>11} {rates['sandboxed']:12.1f} {rates['plain']:9.1f} "
            f"{rates['sandboxed'] / rates['plain']:7.2f}"
        )

    node = shutil.which("node")
    if node is not None:
        js_sides: dict[str, Run] = {
            "sandboxed": sandbox_runner(runner, "javascript", JS_SNIPPET),
            "plain": lambda x: plain_run([node, "-e", PLAIN_JS_STUB], x),
        }
        await latencies(js_sides, 2, batch=1)
        js_runs = max(10, runs // 2)
        print_latency("JavaScript cold start", await latencies(js_sides, js_runs))
    runner.close()


if __name__ == "__main__":
    asyncio.run(main())
