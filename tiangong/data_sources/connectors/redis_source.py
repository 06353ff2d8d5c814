"""Redis sources: a fixed list of reading commands, each bounded by the row limit.

Commands are called through redis-py's methods, never sent as user text, so nothing outside
this list can run. KEYS, HGETALL and SMEMBERS are served with SCAN-family calls: they stop at
the limit instead of blocking the server on a large key space.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout

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
from tiangong.errors import BadRequest

DEFAULT_PORT = 6379
# Keys examined per SCAN round trip.
_SCAN_COUNT = 200

# command -> (fewest args, most args)
COMMANDS: dict[str, tuple[int, int]] = {
    "GET": (1, 1),
    "MGET": (1, 10),
    "HGET": (2, 2),
    "HMGET": (2, 10),
    "HGETALL": (1, 1),
    "HKEYS": (1, 1),
    "HLEN": (1, 1),
    "LRANGE": (1, 2),
    "LLEN": (1, 1),
    "SMEMBERS": (1, 1),
    "SCARD": (1, 1),
    "SISMEMBER": (2, 2),
    "ZRANGE": (1, 2),
    "ZCARD": (1, 1),
    "ZSCORE": (2, 2),
    "TYPE": (1, 1),
    "TTL": (1, 1),
    "PTTL": (1, 1),
    "EXISTS": (1, 10),
    "STRLEN": (1, 1),
    "KEYS": (0, 1),
    "SCAN": (0, 1),
    "DBSIZE": (0, 0),
    "PING": (0, 0),
}


class CommandNotAllowed(BadRequest):
    code = "REDIS_COMMAND_NOT_ALLOWED"


class ArgumentsInvalid(BadRequest):
    code = "REDIS_ARGUMENTS_INVALID"


def _client(source: Source, address: str, timeout_s: float) -> aioredis.Redis:
    config = source.config
    return aioredis.Redis(
        host=address,
        port=int(config.get("port") or DEFAULT_PORT),
        db=int(config.get("db_index") or 0),
        username=config.get("username"),
        password=source.secrets.get("password") or None,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=timeout_s,
        decode_responses=False,
        retry_on_timeout=False,
    )


async def _call(
    source: Source, timeout_s: float, work: Callable[[aioredis.Redis], Awaitable[Rows]]
) -> Rows:
    config = source.config
    port = int(config.get("port") or DEFAULT_PORT)
    address = await hosts.address(source.user, config["host"], port)
    client = _client(source, address, timeout_s)
    try:
        async with deadline(CONNECT_TIMEOUT_S + timeout_s, "The Redis command"):
            return await work(client)
    except RedisTimeout:
        raise Timeout("Redis did not answer in time") from None
    except (RedisConnectionError, AuthenticationError) as exc:
        raise Unreachable(f"Cannot connect to {config['host']}:{port}: {exc}") from None
    except ResponseError as exc:
        raise QueryFailed(f"Redis refused the command: {exc}") from None
    except RedisError as exc:
        raise Unreachable(f"Redis failed: {exc}") from None
    finally:
        await client.aclose()


async def test(source: Source) -> str:
    async def info(client: aioredis.Redis) -> Rows:
        server = await client.info("server")
        return Rows([], [], result=str(server.get("redis_version", "")))

    rows = await _call(source, TEST_TIMEOUT_S, info)
    return f"Redis {rows.result}"


def _start(args: list[str]) -> int:
    try:
        start = int(args[1]) if len(args) > 1 else 0
    except ValueError:
        raise ArgumentsInvalid("The start index must be an integer") from None
    if start < 0:
        raise ArgumentsInvalid("The start index must be 0 or more")
    return start


async def _scan(items: Any, limit: int) -> tuple[list[Any], bool]:
    found: list[Any] = []
    async for item in items:
        if len(found) == limit:
            return found, True
        found.append(item)
    return found, False


async def query(
    source: Source, command: str, args: list[str], limit: int, timeout_s: float
) -> Rows:
    name = command.upper()
    if name not in COMMANDS:
        allowed = ", ".join(COMMANDS)
        raise CommandNotAllowed(f"{command} is not allowed; use one of {allowed}")
    fewest, most = COMMANDS[name]
    if not fewest <= len(args) <= most:
        raise ArgumentsInvalid(f"{name} takes {fewest}..{most} arguments, not {len(args)}")

    async def run(client: aioredis.Redis) -> Rows:
        return await _run(client, name, args, limit)

    return await _call(source, timeout_s, run)


async def _run(client: aioredis.Redis, name: str, args: list[str], limit: int) -> Rows:
    one: dict[str, Callable[[], Any]] = {
        "GET": lambda: client.get(args[0]),
        "HGET": lambda: client.hget(args[0], args[1]),
        "HLEN": lambda: client.hlen(args[0]),
        "LLEN": lambda: client.llen(args[0]),
        "SCARD": lambda: client.scard(args[0]),
        "SISMEMBER": lambda: client.sismember(args[0], args[1]),
        "ZCARD": lambda: client.zcard(args[0]),
        "ZSCORE": lambda: client.zscore(args[0], args[1]),
        "TYPE": lambda: client.type(args[0]),
        "TTL": lambda: client.ttl(args[0]),
        "PTTL": lambda: client.pttl(args[0]),
        "EXISTS": lambda: client.exists(*args),
        "STRLEN": lambda: client.strlen(args[0]),
        "DBSIZE": lambda: client.dbsize(),
        "PING": lambda: client.ping(),
    }
    if name in one:
        value = json_safe(await one[name]())
        return Rows(["value"], [[value]], result=value)
    if name in ("MGET", "HMGET"):
        keys = args if name == "MGET" else args[1:]
        values = await (client.mget(keys) if name == "MGET" else client.hmget(args[0], keys))
        pairs = [[key, json_safe(value)] for key, value in zip(keys, values, strict=True)]
        label = "key" if name == "MGET" else "field"
        return Rows([label, "value"], pairs, result={k: v for k, v in pairs})
    if name in ("LRANGE", "ZRANGE"):
        start = _start(args)
        if name == "LRANGE":
            items = [json_safe(v) for v in await client.lrange(args[0], start, start + limit)]
            return Rows(["value"], [[v] for v in items[:limit]], len(items) > limit, items[:limit])
        scored: list[Any] = await client.zrange(args[0], start, start + limit, withscores=True)
        pairs = [[json_safe(member), score] for member, score in scored]
        return Rows(["member", "score"], pairs[:limit], len(pairs) > limit, pairs[:limit])
    if name == "HGETALL":
        fields, more = await _scan(client.hscan_iter(args[0], count=_SCAN_COUNT), limit)
        pairs = [[json_safe(k), json_safe(v)] for k, v in fields]
        return Rows(["field", "value"], pairs, more, {str(k): v for k, v in pairs})
    if name == "HKEYS":
        fields, more = await _scan(client.hscan_iter(args[0], count=_SCAN_COUNT), limit)
        keys = [json_safe(k) for k, _ in fields]
        return Rows(["field"], [[k] for k in keys], more, keys)
    if name == "SMEMBERS":
        members, more = await _scan(client.sscan_iter(args[0], count=_SCAN_COUNT), limit)
        values = [json_safe(m) for m in members]
        return Rows(["value"], [[v] for v in values], more, values)
    # KEYS and SCAN: a pattern, matched by SCAN so the server is never blocked.
    pattern = args[0] if args else "*"
    found, more = await _scan(client.scan_iter(match=pattern, count=_SCAN_COUNT), limit)
    keys = [json_safe(k) for k in found]
    return Rows(["key"], [[k] for k in keys], more, keys)
