"""Data sources: CRUD with encrypted secrets, host checks for users who are not admins, and
connection tests and read-only queries against the real local PostgreSQL, MariaDB and Redis,
uploaded CSV/JSON files and a loopback HTTP API."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import asyncmy
import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from tests import backends
from tests.loopback import LoopbackServer
from tiangong.config import get_settings
from tiangong.data_sources.models import DataSource
from tiangong.db.engine import session_factory

API = "/api/v1/data-sources"
DB = f"tg_ds_{os.getpid()}"
PG_HOST, PG_PORT = backends.PG_HOST.split(":")
MY_HOST, MY_PORT = backends.MYSQL_HOST.split(":")
REDIS_DB = 3
KEY = f"tgds:{os.getpid()}:"


@pytest.fixture(autouse=True)
def open_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local servers listen on loopback; tests of the refusal close this again."""
    monkeypatch.setattr(get_settings(), "data_source_allowlist", ["127.0.0.1/32"])


def close_allowlists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "data_source_allowlist", [])
    monkeypatch.setattr(get_settings(), "http_allowlist", [])


@pytest.fixture(scope="module")
async def pg_db() -> AsyncIterator[str]:
    admin = await asyncpg.connect(host=PG_HOST, port=int(PG_PORT), user="postgres")
    await admin.execute(f'CREATE DATABASE "{DB}"')
    conn = await asyncpg.connect(host=PG_HOST, port=int(PG_PORT), user="postgres", database=DB)
    await conn.execute(
        """
        CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10, 2),
                            made date, seen timestamptz, raw bytea, extra jsonb);
        INSERT INTO items SELECT g, 'item ' || g, g * 1.5, DATE '2024-01-01' + g,
               TIMESTAMPTZ '2024-01-01 00:00:00+00', '\\xff00'::bytea, '{"a": [1, 2]}'
        FROM generate_series(1, 30) AS g;
        CREATE SEQUENCE counter;
        CREATE FUNCTION wipe() RETURNS int AS $$ DELETE FROM items; SELECT 1 $$ LANGUAGE sql;
        """
    )
    await conn.close()
    yield DB
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.close()


async def pg_count() -> int:
    conn = await asyncpg.connect(host=PG_HOST, port=int(PG_PORT), user="postgres", database=DB)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM items"))
    finally:
        await conn.close()


async def my_execute(*statements: str, database: str | None = None) -> list[Any]:
    conn = await asyncmy.connect(
        host=MY_HOST, port=int(MY_PORT), user="root", password="", db=database, autocommit=True
    )
    result: list[Any] = []
    try:
        async with conn.cursor() as cur:
            for statement in statements:
                await cur.execute(statement)
                result = list(await cur.fetchall())
    finally:
        conn.close()
    return result


@pytest.fixture(scope="module")
async def my_db() -> AsyncIterator[str]:
    await my_execute(f"CREATE DATABASE `{DB}`")
    await my_execute(
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50), price DECIMAL(10, 2),"
        " made DATE, raw VARBINARY(10))",
        "INSERT INTO items SELECT seq, CONCAT('item ', seq), seq * 1.5,"
        " DATE '2024-01-01' + INTERVAL seq DAY, x'ff00' FROM seq_1_to_30",
        "CREATE FUNCTION wipe() RETURNS INT MODIFIES SQL DATA"
        " BEGIN DELETE FROM items; RETURN 1; END",
        database=DB,
    )
    yield DB
    await my_execute(f"DROP DATABASE IF EXISTS `{DB}`")


@pytest.fixture
async def redis_keys() -> AsyncIterator[aioredis.Redis]:
    url = backends.REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = aioredis.from_url(url)
    await client.set(f"{KEY}greeting", "你好")
    await client.set(f"{KEY}blob", b"\xff\x00")
    await client.hset(f"{KEY}user", mapping={"name": "alice", "age": "30"})
    await client.rpush(f"{KEY}list", *[str(i) for i in range(20)])
    await client.zadd(f"{KEY}scores", {"a": 1.5, "b": 2})
    await client.sadd(f"{KEY}set", "x", "y", "z")
    yield client
    keys = [key async for key in client.scan_iter(match=f"{KEY}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def pg_body(name: str = "pg", **config: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "postgresql",
        "config": {
            "host": PG_HOST,
            "port": int(PG_PORT),
            "database": DB,
            "username": "postgres",
            "password": "s3cret-pass",
            **config,
        },
    }


def my_body(name: str = "my", **config: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "mysql",
        "config": {
            "host": MY_HOST,
            "port": int(MY_PORT),
            "database": DB,
            "username": "root",
            **config,
        },
    }


async def create(client: httpx.AsyncClient, headers: dict[str, str], body: Any) -> Any:
    response = await client.post(API, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def run(
    client: httpx.AsyncClient, headers: dict[str, str], source_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"{API}/{source_id}/query", json=body, headers=headers)


async def test_crud_keeps_secrets_encrypted_and_never_returns_them(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    created = await create(client, user_headers, {**pg_body(), "description": "warehouse"})
    assert created["has_password"] is True
    assert created["secrets_set"] == ["password"]
    assert "password" not in created["config"]
    assert created["supported"] is True and created["last_test_ok"] is None
    async with session_factory()() as session:
        row = (await session.execute(select(DataSource))).scalars().one()
        assert row.secret and "s3cret-pass" not in row.secret
        assert "s3cret-pass" not in str(row.config)

    got = await client.get(f"{API}/{created['id']}", headers=user_headers)
    assert got.status_code == 200 and "s3cret-pass" not in got.text
    listed = await client.get(API, params={"type": "postgresql"}, headers=user_headers)
    assert listed.json()["total"] == 1 and "s3cret-pass" not in listed.text
    assert (await client.get(API, params={"type": "redis"}, headers=user_headers)).json()[
        "total"
    ] == 0
    assert (await client.get(API, params={"q": "wareh"}, headers=user_headers)).json()["total"] == 1

    # A partial update keeps the password; an empty one clears it.
    renamed = await client.put(
        f"{API}/{created['id']}",
        json={"name": "pg2", "config": {"port": 5433}},
        headers=user_headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "pg2" and renamed.json()["config"]["port"] == 5433
    assert renamed.json()["has_password"] is True
    cleared = await client.put(
        f"{API}/{created['id']}", json={"config": {"password": ""}}, headers=user_headers
    )
    assert cleared.json()["has_password"] is False and cleared.json()["secrets_set"] == []

    deleted = await client.delete(f"{API}/{created['id']}", headers=user_headers)
    assert deleted.status_code == 204
    gone = await client.get(f"{API}/{created['id']}", headers=user_headers)
    assert gone.status_code == 404 and gone.json()["error"] == "DATA_SOURCE_NOT_FOUND"


async def test_bad_input_is_refused_with_a_clear_code(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    cases: list[tuple[Any, int, str]] = [
        (
            {"name": "x", "type": "mysql", "config": {"host": "db.example.com"}},
            422,
            "VALIDATION_ERROR",
        ),
        (
            {**pg_body(), "config": {**pg_body()["config"], "url": "http://x"}},
            422,
            "VALIDATION_ERROR",
        ),
        ({**pg_body(), "config": {**pg_body()["config"], "port": 70000}}, 422, "VALIDATION_ERROR"),
        ({**pg_body(), "type": "oracle"}, 422, "VALIDATION_ERROR"),
        ({**pg_body(), "name": ""}, 422, "VALIDATION_ERROR"),
        (
            {**pg_body(), "config": {**pg_body()["config"], "host": "bad host!"}},
            422,
            "DATA_SOURCE_HOST_INVALID",
        ),
        ({"name": "f", "type": "csv", "config": {"upload_id": "nope"}}, 404, "UPLOAD_NOT_FOUND"),
        (
            {"name": "a", "type": "api", "config": {"url": "https://u:pw@api.example.com/x"}},
            422,
            "VALIDATION_ERROR",
        ),
        (
            {"name": "a", "type": "api", "config": {"url": "ftp://x.example.com"}},
            400,
            "DATA_SOURCE_HOST_BLOCKED",
        ),
    ]
    for body, status, code in cases:
        response = await client.post(API, json=body, headers=user_headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"] == code, (body, response.text)
    await create(client, user_headers, pg_body())
    taken = await client.post(API, json=pg_body(), headers=user_headers)
    assert taken.status_code == 409 and taken.json()["error"] == "DATA_SOURCE_NAME_TAKEN"
    assert (await client.get(API)).status_code == 401
    assert (await client.post(API, json=pg_body())).status_code == 401


async def test_another_users_source_is_not_found(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    created = await create(client, user_headers, pg_body())
    url = f"{API}/{created['id']}"
    for method, path, body in (
        ("GET", url, None),
        ("PUT", url, {"name": "mine"}),
        ("DELETE", url, None),
        ("POST", f"{url}/test", None),
        ("POST", f"{url}/query", {"sql": "SELECT 1"}),
    ):
        response = await client.request(method, path, json=body, headers=other_headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "DATA_SOURCE_NOT_FOUND"
    assert (await client.get(API, headers=other_headers)).json()["total"] == 0
    assert (await client.get(url, headers=user_headers)).status_code == 200


async def test_non_admins_may_not_reach_private_addresses(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    pg_db: str,
) -> None:
    usable = await create(client, user_headers, pg_body("opened"))
    close_allowlists(monkeypatch)
    for host in ("127.0.0.1", "10.0.0.5", "169.254.169.254", "localhost", "[::1]", "0x7f.1"):
        response = await client.post(API, json=pg_body(f"h{host}", host=host), headers=user_headers)
        assert response.status_code == 400, (host, response.text)
        assert response.json()["error"] == "DATA_SOURCE_HOST_BLOCKED"
        assert "TIANGONG_DATA_SOURCE_ALLOWLIST" in response.json()["message"]
    # Saved while allowed, checked again at use: the closed list refuses it now.
    refused = await run(client, user_headers, usable["id"], sql="SELECT 1")
    assert refused.status_code == 400 and refused.json()["error"] == "DATA_SOURCE_HOST_BLOCKED"
    tested = (await client.post(f"{API}/{usable['id']}/test", headers=user_headers)).json()
    assert tested["ok"] is False and tested["error"] == "DATA_SOURCE_HOST_BLOCKED"
    # A private Redis is refused the same way.
    redis_body = {"name": "r", "type": "redis", "config": {"host": "192.168.1.10"}}
    response = await client.post(API, json=redis_body, headers=user_headers)
    assert response.json()["error"] == "DATA_SOURCE_HOST_BLOCKED"

    # Admins' databases live on private networks.
    own = await create(client, admin_headers, pg_body("admin-pg", host="127.0.0.1"))
    answer = await run(client, admin_headers, own["id"], sql="SELECT 1 AS one")
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == [[1]]


async def test_postgres_test_and_query(
    client: httpx.AsyncClient, user_headers: dict[str, str], pg_db: str
) -> None:
    source = await create(client, user_headers, pg_body())
    tested = await client.post(f"{API}/{source['id']}/test", headers=user_headers)
    assert tested.status_code == 200, tested.text
    assert tested.json()["ok"] is True and "PostgreSQL" in tested.json()["server_version"]
    assert (await client.get(f"{API}/{source['id']}", headers=user_headers)).json()[
        "last_test_ok"
    ] is True

    response = await run(
        client,
        user_headers,
        source["id"],
        sql="SELECT id, price, made, seen, raw, extra FROM items ORDER BY id;",
        limit=5,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["columns"] == ["id", "price", "made", "seen", "raw", "extra"]
    assert result["row_count"] == 5 and result["truncated"] is True
    assert result["rows"][0][:4] == [1, "1.50", "2024-01-02", "2024-01-01T00:00:00+00:00"]
    assert result["rows"][0][4] == {"base64": "/wA="}
    shown = await run(client, user_headers, source["id"], sql="SHOW statement_timeout")
    assert shown.status_code == 200 and shown.json()["rows"] == [["15s"]], shown.text
    whole = await run(client, user_headers, source["id"], sql="SELECT count(*) AS n FROM items")
    assert whole.json() | {"elapsed_ms": 0} == {
        "columns": ["n"],
        "rows": [[30]],
        "row_count": 1,
        "truncated": False,
        "elapsed_ms": 0,
        "result": None,
        "status_code": None,
    }


async def test_postgres_refuses_writes_and_keeps_the_data(
    client: httpx.AsyncClient, user_headers: dict[str, str], pg_db: str
) -> None:
    source = await create(client, user_headers, pg_body())
    not_read = [
        "DELETE FROM items",
        "SELECT 1; DROP TABLE items",
        "SELECT 1; COMMIT; DROP TABLE items",
        "/* hi */ UPDATE items SET name = 'x'",
        "SELECT * INTO copy FROM items",
        "SELECT * FROM items FOR UPDATE",
        "SELECT ';' ; DROP TABLE items",
        "",
    ]
    for sql in not_read:
        response = await run(client, user_headers, source["id"], sql=sql or " ")
        assert response.status_code in (400, 422), (sql, response.text)
        if sql:
            assert response.json()["error"] == "QUERY_NOT_READ_ONLY", (sql, response.text)
    # Statements that pass the check but write: the read-only transaction stops them.
    for sql in (
        "SELECT wipe()",
        "WITH gone AS (DELETE FROM items RETURNING id) SELECT count(*) FROM gone",
        "SELECT nextval('counter')",
        "SELECT set_config('transaction_read_only', 'off', true), wipe()",
    ):
        response = await run(client, user_headers, source["id"], sql=sql)
        assert response.status_code == 400, (sql, response.text)
        assert response.json()["error"] == "DATA_SOURCE_QUERY_FAILED", (sql, response.text)
        assert "read-only" in response.json()["message"] or "read-write" in response.text
    assert await pg_count() == 30

    slow = await run(client, user_headers, source["id"], sql="SELECT pg_sleep(5)", timeout_s=1)
    assert slow.status_code == 504 and slow.json()["error"] == "DATA_SOURCE_TIMEOUT"
    broken = await run(client, user_headers, source["id"], sql="SELECT nope FROM items")
    assert broken.status_code == 400 and broken.json()["error"] == "DATA_SOURCE_QUERY_FAILED"
    missing = await run(client, user_headers, source["id"], command="GET")
    assert missing.status_code == 422 and missing.json()["error"] == "VALIDATION_ERROR"


async def test_postgres_wrong_database_reports_a_failed_test(
    client: httpx.AsyncClient, user_headers: dict[str, str], pg_db: str
) -> None:
    source = await create(client, user_headers, pg_body(database="no_such_db_here"))
    tested = (await client.post(f"{API}/{source['id']}/test", headers=user_headers)).json()
    assert tested["ok"] is False and tested["error"] == "DATA_SOURCE_UNREACHABLE"
    assert "s3cret-pass" not in str(tested)
    assert (await client.get(f"{API}/{source['id']}", headers=user_headers)).json()[
        "last_test_ok"
    ] is False
    query = await run(client, user_headers, source["id"], sql="SELECT 1")
    assert query.status_code == 502 and query.json()["error"] == "DATA_SOURCE_UNREACHABLE"


async def test_mysql_test_query_and_read_only(
    client: httpx.AsyncClient, user_headers: dict[str, str], my_db: str
) -> None:
    source = await create(client, user_headers, my_body())
    tested = (await client.post(f"{API}/{source['id']}/test", headers=user_headers)).json()
    assert tested["ok"] is True and "MariaDB" in tested["server_version"], tested

    response = await run(
        client, user_headers, source["id"], sql="SELECT * FROM items ORDER BY id", limit=3
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["columns"] == ["id", "name", "price", "made", "raw"]
    assert result["rows"][0] == [1, "item 1", "1.50", "2024-01-02", {"base64": "/wA="}]
    assert result["truncated"] is True and result["row_count"] == 3

    for sql in (
        "SELECT 1; DROP TABLE items",
        "SELECT 1; COMMIT; DELETE FROM items",
        "SELECT * FROM items INTO OUTFILE '/tmp/items.txt'",
        "SELECT 1 /*!, (SELECT 1) */",
        "DELETE FROM items",
        "SET SESSION TRANSACTION READ WRITE",
    ):
        refused = await run(client, user_headers, source["id"], sql=sql)
        assert refused.status_code == 400, (sql, refused.text)
        assert refused.json()["error"] == "QUERY_NOT_READ_ONLY", (sql, refused.text)
    wrote = await run(client, user_headers, source["id"], sql="SELECT wipe()")
    assert wrote.status_code == 400 and wrote.json()["error"] == "DATA_SOURCE_QUERY_FAILED"
    assert "READ ONLY" in wrote.json()["message"]
    assert await my_execute("SELECT COUNT(*) FROM items", database=DB) == [(30,)]
    slow = await run(client, user_headers, source["id"], sql="SELECT SLEEP(5)", timeout_s=1)
    assert slow.status_code == 504 and slow.json()["error"] == "DATA_SOURCE_TIMEOUT"

    bad_login = await create(client, user_headers, my_body("bad", password="wrong-password"))
    tested = (await client.post(f"{API}/{bad_login['id']}/test", headers=user_headers)).json()
    assert tested["ok"] is False and tested["error"] == "DATA_SOURCE_UNREACHABLE"


async def test_redis_reads_only_allowed_commands(
    client: httpx.AsyncClient, user_headers: dict[str, str], redis_keys: aioredis.Redis
) -> None:
    body = {
        "name": "cache",
        "type": "redis",
        "config": {"host": "127.0.0.1", "port": 6379, "db_index": REDIS_DB},
    }
    source = await create(client, user_headers, body)
    tested = (await client.post(f"{API}/{source['id']}/test", headers=user_headers)).json()
    assert tested["ok"] is True and tested["server_version"].startswith("Redis")

    async def command(name: str, *args: str, limit: int = 100) -> Any:
        response = await run(
            client, user_headers, source["id"], command=name, args=list(args), limit=limit
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert (await command("GET", f"{KEY}greeting"))["result"] == "你好"
    assert (await command("get", f"{KEY}blob"))["result"] == {"base64": "/wA="}
    assert (await command("HGETALL", f"{KEY}user"))["result"] == {"name": "alice", "age": "30"}
    listed = await command("LRANGE", f"{KEY}list", "5", limit=3)
    assert listed["result"] == ["5", "6", "7"] and listed["truncated"] is True
    scores = await command("ZRANGE", f"{KEY}scores")
    assert scores["columns"] == ["member", "score"] and scores["rows"] == [["a", 1.5], ["b", 2.0]]
    assert sorted((await command("SMEMBERS", f"{KEY}set"))["result"]) == ["x", "y", "z"]
    keys = await command("KEYS", f"{KEY}*", limit=100)
    assert len(keys["result"]) == 6 and keys["truncated"] is False
    assert (await command("KEYS", f"{KEY}*", limit=2))["truncated"] is True
    assert (await command("MGET", f"{KEY}greeting", f"{KEY}none"))["rows"] == [
        [f"{KEY}greeting", "你好"],
        [f"{KEY}none", None],
    ]
    assert (await command("TYPE", f"{KEY}user"))["result"] == "hash"

    for name, args, code in (
        ("SET", [f"{KEY}greeting", "x"], "REDIS_COMMAND_NOT_ALLOWED"),
        ("FLUSHDB", [], "REDIS_COMMAND_NOT_ALLOWED"),
        ("EVAL", ["return 1", "0"], "REDIS_COMMAND_NOT_ALLOWED"),
        ("GET", [], "REDIS_ARGUMENTS_INVALID"),
        ("LRANGE", [f"{KEY}list", "-1"], "REDIS_ARGUMENTS_INVALID"),
        ("HGETALL", [f"{KEY}greeting"], "DATA_SOURCE_QUERY_FAILED"),
    ):
        response = await run(client, user_headers, source["id"], command=name, args=args)
        assert response.status_code == 400, (name, response.text)
        assert response.json()["error"] == code, (name, response.text)
    assert await redis_keys.get(f"{KEY}greeting") == "你好".encode()


async def upload(client: httpx.AsyncClient, headers: dict[str, str], name: str, data: bytes) -> str:
    response = await client.post(
        "/api/v1/uploads", files={"file": (name, data, "application/octet-stream")}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_csv_and_json_sources_filter_uploaded_rows(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    csv_data = "城市,人口,备注\n北京,2189,首都\n上海,2487,港口\n广州,1868,南方\n深圳,1756,南方\n"
    csv_id = await upload(client, user_headers, "cities.csv", csv_data.encode("gbk"))
    source = await create(
        client, user_headers, {"name": "cities", "type": "csv", "config": {"upload_id": csv_id}}
    )
    tested = (await client.post(f"{API}/{source['id']}/test", headers=user_headers)).json()
    assert tested == tested | {"ok": True, "server_version": "4 rows, 3 columns"}

    response = await run(
        client,
        user_headers,
        source["id"],
        filters=[{"column": "人口", "op": "gt", "value": 1800}],
        columns=["城市"],
    )
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [["北京"], ["上海"], ["广州"]]
    paged = await run(
        client,
        user_headers,
        source["id"],
        filters=[{"column": "备注", "op": "contains", "value": "南"}],
        offset=1,
        limit=1,
    )
    assert paged.json()["rows"] == [["深圳", "1756", "南方"]] and paged.json()["truncated"] is False
    unknown = await run(
        client, user_headers, source["id"], filters=[{"column": "nope", "value": 1}]
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "DATA_SOURCE_QUERY_FAILED"

    records = b'{"data": [{"id": 1, "tags": ["a"]}, {"id": 2, "ok": true}, {"id": 3}]}'
    json_id = await upload(client, user_headers, "records.json", records)
    body = {"name": "recs", "type": "json", "config": {"upload_id": json_id, "records_key": "data"}}
    json_source = await create(client, user_headers, body)
    result = (
        await run(
            client,
            user_headers,
            json_source["id"],
            filters=[{"column": "id", "op": "gte", "value": 2}],
        )
    ).json()
    assert result["columns"] == ["id", "tags", "ok"]
    assert result["rows"] == [[2, None, True], [3, None, None]]

    # Bob cannot point a source at Alice's upload.
    stolen = {"name": "x", "type": "csv", "config": {"upload_id": csv_id}}
    response = await client.post(API, json=stolen, headers=other_headers)
    assert response.status_code == 404 and response.json()["error"] == "UPLOAD_NOT_FOUND"


async def test_api_source_gets_through_the_safe_client(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = LoopbackServer().start()
    try:
        body = {
            "name": "api",
            "type": "api",
            "config": {"url": f"{server.url}/v1", "headers": {"X-Api-Key": "k-123456"}},
        }
        source = await create(client, user_headers, body)
        assert source["secrets_set"] == ["headers"] and "k-123456" not in str(source)
        tested = (await client.post(f"{API}/{source['id']}/test", headers=user_headers)).json()
        assert tested["ok"] is True, tested
        response = await run(
            client, user_headers, source["id"], path="/orders", params={"since": "2024"}
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["status_code"] == 200
        assert result["result"]["path"] == "/v1/orders"
        assert result["result"]["query"] == {"since": "2024"}
        assert result["result"]["headers"]["x-api-key"] == "k-123456"
        close_allowlists(monkeypatch)
        blocked = await run(client, user_headers, source["id"])
        assert blocked.status_code == 400 and blocked.json()["error"] == "URL_BLOCKED"
    finally:
        server.stop()


async def test_mongodb_and_s3_are_stored_but_not_connected(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    bodies = [
        {"name": "m", "type": "mongodb", "config": {"host": "mongo.example.com", "password": "p"}},
        {
            "name": "s",
            "type": "s3",
            "config": {"bucket": "b", "access_key_id": "AK", "secret_access_key": "SK-secret"},
        },
    ]
    for body in bodies:
        source = await create(client, user_headers, body)
        assert source["supported"] is False and "SK-secret" not in str(source)
        for action, payload in (("test", None), ("query", {})):
            response = await client.post(
                f"{API}/{source['id']}/{action}", json=payload, headers=user_headers
            )
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "DATA_SOURCE_TYPE_UNSUPPORTED"
