"""MySQL and MariaDB sources: one connection per call, queries in a read-only transaction."""

from __future__ import annotations

from typing import Any

import asyncmy
from asyncmy.cursors import SSCursor
from asyncmy.errors import Error as MySQLError
from asyncmy.errors import OperationalError

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

DEFAULT_PORT = 3306
# Server errors that mean the statement ran out of time (MariaDB, MySQL).
_TIMEOUT_ERRORS = {1969, 3024}


async def _connect(source: Source, timeout_s: float) -> Any:
    config = source.config
    port = int(config.get("port") or DEFAULT_PORT)
    address = await hosts.address(source.user, config["host"], port)
    try:
        conn = await asyncmy.connect(
            host=address,
            port=port,
            user=config["username"],
            password=source.secrets.get("password") or "",
            db=config["database"],
            connect_timeout=CONNECT_TIMEOUT_S,
            charset="utf8mb4",
            autocommit=True,
        )
    except (OSError, MySQLError) as exc:
        raise Unreachable(f"Cannot connect to {config['host']}:{port}: {exc}") from None
    try:
        async with conn.cursor() as cur:
            # Every later transaction of the session is read-only, and statements stop on the
            # server at the time limit (MariaDB and MySQL name the setting differently).
            await cur.execute("SET SESSION TRANSACTION READ ONLY")
            if "mariadb" in conn.get_server_info().lower():
                await cur.execute("SET SESSION max_statement_time = %s", (timeout_s,))
            else:
                await cur.execute("SET SESSION max_execution_time = %s", (int(timeout_s * 1000),))
    except MySQLError as exc:
        conn.close()
        raise Unreachable(f"Cannot prepare the session: {exc}") from None
    return conn


async def test(source: Source) -> str:
    async with deadline(CONNECT_TIMEOUT_S + TEST_TIMEOUT_S, "The connection test"):
        conn = await _connect(source, TEST_TIMEOUT_S)
        try:
            return str(conn.get_server_info())
        finally:
            conn.close()


async def query(source: Source, sql: str, limit: int, timeout_s: float) -> Rows:
    statement = check_read_only(sql)
    async with deadline(CONNECT_TIMEOUT_S + timeout_s + 1, "The query"):
        conn = await _connect(source, timeout_s)
        try:
            return await _run(conn, statement, limit)
        finally:
            # Closing the socket drops unread rows; no need to drain an unbuffered cursor.
            conn.close()


async def _run(conn: Any, statement: str, limit: int) -> Rows:
    try:
        async with conn.cursor() as cur:
            await cur.execute("START TRANSACTION READ ONLY")
        cursor = conn.cursor(SSCursor)
        # No parameters: the text goes to the server as written, never %-formatted.
        await cursor.execute(statement)
        columns = [str(column[0]) for column in cursor.description or ()]
        records = await cursor.fetchmany(limit + 1) if columns else []
    except OperationalError as exc:
        if exc.args and exc.args[0] in _TIMEOUT_ERRORS:
            raise Timeout(f"The query was stopped: {exc.args[-1]}") from None
        raise QueryFailed(f"The query failed: {exc.args[-1] if exc.args else exc}") from None
    except MySQLError as exc:
        raise QueryFailed(f"The query failed: {exc.args[-1] if exc.args else exc}") from None
    rows: list[list[Any]] = [[json_safe(value) for value in record] for record in records]
    return Rows(columns, rows[:limit], truncated=len(rows) > limit)
