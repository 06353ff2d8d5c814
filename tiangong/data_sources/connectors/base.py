"""What every connector is handed, and the time limits they share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiangong.auth.models import User
from tiangong.data_sources.errors import Timeout

CONNECT_TIMEOUT_S = 10.0
TEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Source:
    """A data source as the connectors see it: secrets decrypted, nothing tied to a session."""

    type: str
    config: dict[str, Any]
    secrets: dict[str, Any]
    # The caller; whether they are an admin decides which hosts they may reach.
    user: User
    # CSV and JSON sources: the stored upload.
    file: Path | None = None


@dataclass
class Rows:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False
    result: Any = None
    status_code: int | None = None


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


@asynccontextmanager
async def deadline(seconds: float, what: str) -> AsyncIterator[None]:
    """A hard limit on a whole operation, whatever the driver's own timeouts do."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise Timeout(f"{what} did not finish within {seconds:g} s") from None
