"""GET /health: liveness plus the state of the database and cache."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tiangong import __version__
from tiangong.cache import get_cache
from tiangong.config import get_settings
from tiangong.db.engine import get_engine
from tiangong.runtime.tools import BUILTIN
from tiangong.tools.platform import sandbox

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


async def _database() -> dict[str, Any]:
    try:
        async with asyncio.timeout(3), get_engine().connect() as conn:
            await conn.execute(text("SELECT 1"))
        status = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported not raised
        log.warning("database health check failed: %s", type(exc).__name__)
        status = "down"
    return {"status": status, "backend": get_settings().db_backend}


async def _cache() -> dict[str, Any]:
    cache = get_cache()
    try:
        async with asyncio.timeout(3):
            status = "ok" if await cache.ping() else "down"
    except Exception as exc:  # noqa: BLE001
        log.warning("cache health check failed: %s", type(exc).__name__)
        status = "down"
    return {"status": status, "backend": cache.backend}


def _builtin_tools() -> dict[str, Any]:
    # Ready means every builtin tool could run here: the code tools need the sandbox.
    return {"count": len(BUILTIN), "ready": sandbox().available()}


@router.get("/health")
async def health() -> JSONResponse:
    database, cache = await asyncio.gather(_database(), _cache())
    if database["status"] != "ok":
        status, code = "error", 503
    elif cache["status"] != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    body = {
        "status": status,
        "version": __version__,
        "builtin_tools": _builtin_tools(),
        "database": database,
        "cache": cache,
    }
    return JSONResponse(body, status_code=code)
