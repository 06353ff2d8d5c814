"""PostgreSQL sources: one connection per call, every query in a read-only transaction."""

from __future__ import annotations

from typing import Any

import asyncpg

from tiangong.data_sources import hosts
from tiangong.data_sources.connectors.base import (
    CONNECT_TIMEOUT_S,
    TEST_TIMEOUT_S,
    Rows,
    Source,
    deadline,
)
from tiangong.data_sources.errors import QueryFailed, Timeout, Unreachable
from tiangong.data_sources.jsonsafe import json_safe
from tiangong.data_sources.sql_guard import check_read_only

DEFAULT_PORT = 5432


async def _connect(source: Source, timeout_s: float) -> asyncpg.Connection:
    config = source.config
    port = int(config.get("port") or DEFAULT_PORT)
    address = await hosts.address(source.user, config["host"], port)
    try:
        return await asyncpg.connect(
            host=address,
            port=port,
            user=config["username"],
            password=source.secrets.get("password") or None,
            database=config["database"],
            timeout=CONNECT_TIMEOUT_S,
            command_timeout=timeout_s,
            # Read-only by default as well, so nothing in the session starts a writing
            # transaction; statement_timeout stops the query on the server side too.
            server_settings={
                "application_name": "tiangong-data-source",
                "default_transaction_read_only": "on",
                "statement_timeout": str(int(timeout_s * 1000)),
            },
        )
    except TimeoutError:
        raise Timeout(f"Connecting to {config['host']}:{port} timed out") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise Unreachable(f"Cannot connect to {config['host']}:{port}: {exc}") from None


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=2)
    except Exception:  # noqa: BLE001 - a broken connection is dropped instead
        conn.terminate()


async def test(source: Source) -> str:
    """The server's version, once it answered a query."""
    async with deadline(CONNECT_TIMEOUT_S + TEST_TIMEOUT_S, "The connection test"):
        conn = await _connect(source, TEST_TIMEOUT_S)
        try:
            return str(await conn.fetchval("SELECT version()"))
        finally:
            await _close(conn)


async def query(source: Source, sql: str, limit: int, timeout_s: float) -> Rows:
    statement = check_read_only(sql)
    async with deadline(CONNECT_TIMEOUT_S + timeout_s + 1, "The query"):
        conn = await _connect(source, timeout_s)
        try:
            return await _run(conn, statement, limit)
        finally:
            await _close(conn)


async def _run(conn: asyncpg.Connection, statement: str, limit: int) -> Rows:
    try:
        # A prepared statement is one statement; the transaction refuses any write.
        async with conn.transaction(readonly=True):
            prepared = await conn.prepare(statement)
            columns = [attribute.name for attribute in prepared.get_attributes()]
            cursor = await prepared.cursor()
            records = await cursor.fetch(limit + 1)
    except asyncpg.QueryCanceledError as exc:
        raise Timeout(f"The query was cancelled: {exc}") from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise QueryFailed(f"The query failed: {exc}") from None
    rows: list[list[Any]] = [[json_safe(value) for value in record] for record in records]
    return Rows(columns, rows[:limit], truncated=len(rows) > limit)
