"""Fixtures for the sandbox suites: one real bubblewrap runner for the whole session.

Without bwrap installed the suites are skipped (CI installs it). With bwrap installed but no
working sandbox they fail: that is a broken host, not a reason to skip the escape suite.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from tiangong.runtime.sandbox import SandboxRunner

MAX_OUTPUT = 64 * 1024
MAX_PROCESSES = 32


@pytest.fixture(autouse=True)
async def clean_state() -> AsyncIterator[None]:
    """The sandbox touches no database or cache, so skip the suite-wide table cleanup."""
    yield


@pytest.fixture(scope="session")
def runner() -> Iterator[SandboxRunner]:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap (bwrap) is not installed")
    sandbox = SandboxRunner(
        default_timeout_s=10, max_output_bytes=MAX_OUTPUT, max_processes=MAX_PROCESSES
    )
    assert sandbox.available(), f"bwrap is installed but unusable: {sandbox.unavailable_reason}"
    yield sandbox
    sandbox.close()


async def assert_still_serving(runner: SandboxRunner) -> None:
    """After an attack: the next run still works normally."""
    result = await runner.run("python", "def main(n):\n    return n + 1\n", inputs={"n": 41})
    assert result.ok, result
    assert result.result == 42
