"""Data sources: saved connections, their connection test, and read-only queries.

test and query decrypt what they need, then commit, so no transaction (or pooled connection of
the platform's database) is held while a user's server is dialled.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.data_sources import hosts, repository, uploads_store
from tiangong.data_sources.connectors import api, files, mysql, postgres, redis_source
from tiangong.data_sources.connectors.base import Rows, Source, elapsed_ms
from tiangong.data_sources.errors import (
    DataSourceNotFound,
    FileUnreadable,
    TypeUnsupported,
)
from tiangong.data_sources.models import DataSource
from tiangong.data_sources.schemas import (
    SECRET_FIELDS,
    ConnectionTestResult,
    DataSourceCreate,
    DataSourceList,
    DataSourceQuery,
    DataSourceRead,
    DataSourceUpdate,
    QueryResult,
)
from tiangong.db.base import utcnow
from tiangong.errors import AppError, Conflict, ValidationFailed
from tiangong.net.addresses import parse_url
from tiangong.net.errors import BlockedURL
from tiangong.net.guard import Guard
from tiangong.security import crypto

# Types that connect and query here. mongodb and s3 are accepted and stored, but no client
# library ships with the platform: their test and query answer DATA_SOURCE_TYPE_UNSUPPORTED.
SUPPORTED = frozenset({"mysql", "postgresql", "redis", "csv", "json", "api"})

_DATABASE = ({"host", "database", "username"}, {"port", "password"})
# type -> (required config fields, optional ones)
FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "mysql": _DATABASE,
    "postgresql": _DATABASE,
    "mongodb": ({"host"}, {"port", "database", "username", "password"}),
    "redis": ({"host"}, {"port", "db_index", "username", "password"}),
    "csv": ({"upload_id"}, {"delimiter"}),
    "json": ({"upload_id"}, {"records_key"}),
    "api": ({"url"}, {"headers"}),
    "s3": ({"bucket"}, {"region", "endpoint_url", "access_key_id", "secret_access_key"}),
}


def to_read(row: DataSource) -> DataSourceRead:
    return DataSourceRead(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        description=row.description,
        type=row.type,
        config=dict(row.config),
        has_password="password" in row.secret_fields,
        secrets_set=list(row.secret_fields),
        supported=row.type in SUPPORTED,
        last_tested_at=row.last_tested_at,
        last_test_ok=row.last_test_ok,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _get(session: AsyncSession, user: User, source_id: str) -> DataSource:
    row = await repository.get_own(session, user, source_id)
    if row is None:
        raise DataSourceNotFound("Data source not found")
    return row


def _check_fields(type_: str, values: dict[str, Any]) -> None:
    required, optional = FIELDS[type_]
    missing = sorted(required - values.keys())
    extra = sorted(values.keys() - required - optional)
    problems = [f"config.{name}: required for {type_}" for name in missing]
    problems += [f"config.{name}: does not apply to {type_}" for name in extra]
    if problems:
        details = [{"field": p.split(":")[0], "message": p.split(": ", 1)[1]} for p in problems]
        raise ValidationFailed("Invalid config: " + "; ".join(problems), details=details)


def _check_url(url: str, field: str) -> None:
    """At save time: refuses what needs no lookup (IP literals, refused names)."""
    if "@" in url.split("://", 1)[-1].split("/", 1)[0]:
        # The URL is shown back in responses; credentials belong in the (encrypted) headers.
        raise ValidationFailed(f"{field}: put credentials in headers, not in the URL")
    try:
        target = parse_url(url)
        Guard(allowlist=hosts.allowlist()).check_host(target.host)
    except BlockedURL as exc:
        raise BlockedURL(f"{field}: {exc.message}", code="DATA_SOURCE_HOST_BLOCKED") from None
    except AppError as exc:
        raise ValidationFailed(f"{field}: {exc.message}") from None


async def _check_targets(session: AsyncSession, user: User, values: dict[str, Any]) -> None:
    if "host" in values:
        hosts.check(user, values["host"])
    for field in ("url", "endpoint_url"):
        if field in values:
            _check_url(values[field], f"config.{field}")
    if "upload_id" in values:
        await uploads_store.get(session, user, values["upload_id"])


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, secrets); an empty password or header set counts as not set."""
    secrets = {k: values.pop(k) for k in SECRET_FIELDS if k in values}
    return values, {k: v for k, v in secrets.items() if v}


def _store_secrets(row: DataSource, secrets: dict[str, Any]) -> None:
    row.secret = crypto.encrypt(json.dumps(secrets)) if secrets else None
    row.secret_fields = sorted(secrets)


def _secrets(row: DataSource) -> dict[str, Any]:
    return dict(json.loads(crypto.decrypt(row.secret))) if row.secret else {}


async def _unique_name(
    session: AsyncSession, user: User, name: str, except_id: str | None = None
) -> None:
    if await repository.name_taken(session, user, name, except_id):
        raise Conflict(f"A data source named {name!r} exists", code="DATA_SOURCE_NAME_TAKEN")


async def list_sources(
    session: AsyncSession,
    user: User,
    *,
    type_: str | None,
    search: str | None,
    page: int,
    page_size: int,
) -> DataSourceList:
    rows, total = await repository.list_own(
        session, user, type_=type_, search=search, offset=(page - 1) * page_size, limit=page_size
    )
    return DataSourceList(
        items=[to_read(row) for row in rows], total=total, page=page, page_size=page_size
    )


async def create(session: AsyncSession, user: User, data: DataSourceCreate) -> DataSourceRead:
    values = data.config.model_dump(exclude_none=True)
    _check_fields(data.type, values)
    await _check_targets(session, user, values)
    await _unique_name(session, user, data.name)
    config, secrets = _split(values)
    row = DataSource(
        owner_id=user.id,
        name=data.name,
        description=data.description,
        type=data.type,
        config=config,
    )
    _store_secrets(row, secrets)
    await repository.add(session, row)
    return to_read(row)


async def get(session: AsyncSession, user: User, source_id: str) -> DataSourceRead:
    return to_read(await _get(session, user, source_id))


async def update(
    session: AsyncSession, user: User, source_id: str, data: DataSourceUpdate
) -> DataSourceRead:
    row = await _get(session, user, source_id)
    if data.name is not None and data.name != row.name:
        await _unique_name(session, user, data.name, row.id)
        row.name = data.name
    if data.description is not None:
        row.description = data.description
    if data.config is not None:
        changes = data.config.model_dump(exclude_unset=True)
        merged = {**row.config, **_secrets(row), **changes}
        values = {k: v for k, v in merged.items() if v is not None}
        _check_fields(row.type, values)
        await _check_targets(session, user, values)
        row.config, secrets = _split(values)
        _store_secrets(row, secrets)
        # Where it points changed: the last test says nothing about the new target.
        row.last_tested_at, row.last_test_ok = None, None
    row.updated_at = utcnow()
    await session.flush()
    return to_read(row)


async def delete(session: AsyncSession, user: User, source_id: str) -> None:
    await repository.delete(session, await _get(session, user, source_id))


async def _source(session: AsyncSession, user: User, row: DataSource) -> Source:
    if row.type not in SUPPORTED:
        raise TypeUnsupported(
            f"{row.type} data sources cannot be tested or queried on this server: "
            "its client library is not installed"
        )
    path = None
    if row.type in ("csv", "json"):
        upload = await repository.get_upload(session, user, row.config["upload_id"])
        if upload is None:
            raise FileUnreadable("The data source's upload no longer exists")
        path = uploads_store.path_of(upload)
    return Source(row.type, dict(row.config), _secrets(row), user, path)


async def _connect_test(source: Source) -> str:
    if source.type == "postgresql":
        return await postgres.test(source)
    if source.type == "mysql":
        return await mysql.test(source)
    if source.type == "redis":
        return await redis_source.test(source)
    if source.type == "api":
        return await api.test(source)
    return await files.test(source)


async def test(session: AsyncSession, user: User, source_id: str) -> ConnectionTestResult:
    source = await _source(session, user, await _get(session, user, source_id))
    # Nothing of the platform's database is held while the user's server is dialled.
    await session.commit()
    started = time.perf_counter()
    try:
        version = await _connect_test(source)
        result = ConnectionTestResult(
            ok=True, latency_ms=elapsed_ms(started), server_version=version
        )
    except AppError as exc:
        result = ConnectionTestResult(
            ok=False, latency_ms=elapsed_ms(started), error=exc.code, message=exc.message
        )
    row = await repository.get_own(session, user, source_id)
    if row is not None:
        row.last_tested_at, row.last_test_ok = utcnow(), result.ok
        await session.flush()
    return result


def _required(value: Any, field: str, type_: str) -> Any:
    if value is None:
        raise ValidationFailed(
            f"{field}: required to query a {type_} data source",
            details=[{"field": f"body.{field}", "message": f"required for {type_}"}],
        )
    return value


async def _run(source: Source, request: DataSourceQuery) -> Rows:
    limit, timeout_s = request.limit, request.timeout_s
    if source.type == "postgresql":
        sql = _required(request.sql, "sql", source.type)
        return await postgres.query(source, sql, limit, timeout_s)
    if source.type == "mysql":
        sql = _required(request.sql, "sql", source.type)
        return await mysql.query(source, sql, limit, timeout_s)
    if source.type == "redis":
        command = _required(request.command, "command", source.type)
        return await redis_source.query(source, command, request.args, limit, timeout_s)
    if source.type == "api":
        return await api.query(source, request.path, request.params, limit, timeout_s)
    return await files.query(source, request)


async def query(
    session: AsyncSession, user: User, source_id: str, request: DataSourceQuery
) -> QueryResult:
    source = await _source(session, user, await _get(session, user, source_id))
    await session.commit()
    started = time.perf_counter()
    rows = await _run(source, request)
    return QueryResult(
        columns=rows.columns,
        rows=rows.rows,
        row_count=len(rows.rows),
        truncated=rows.truncated,
        elapsed_ms=elapsed_ms(started),
        result=rows.result,
        status_code=rows.status_code,
    )
