from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SourceType = Literal["mysql", "postgresql", "mongodb", "redis", "csv", "json", "api", "s3"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
HeaderName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
]
HeaderValue = Annotated[str, StringConstraints(max_length=4_000, pattern=r"^[^\r\n\x00]*$")]
Text = Annotated[str, StringConstraints(max_length=1_000)]

# Secrets are written, never read back: responses say only which are set.
SECRET_FIELDS = ("password", "headers", "secret_access_key")


class SourceConfig(BaseModel):
    """Connection settings; which apply depends on the type (see DataSourceCreate)."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = Field(default=None, min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65_535)
    database: str | None = Field(default=None, min_length=1, max_length=128)
    username: str | None = Field(default=None, min_length=1, max_length=128)
    password: str | None = Field(default=None, max_length=1_024)
    db_index: int | None = Field(default=None, ge=0, le=1_023)
    url: str | None = Field(default=None, min_length=1, max_length=2_048)
    headers: dict[HeaderName, HeaderValue] | None = Field(default=None, max_length=20)
    upload_id: str | None = Field(default=None, min_length=1, max_length=36)
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    records_key: str | None = Field(default=None, min_length=1, max_length=100)
    bucket: str | None = Field(default=None, min_length=1, max_length=255)
    region: str | None = Field(default=None, min_length=1, max_length=50)
    endpoint_url: str | None = Field(default=None, min_length=1, max_length=2_048)
    access_key_id: str | None = Field(default=None, min_length=1, max_length=256)
    secret_access_key: str | None = Field(default=None, max_length=1_024)


class DataSourceCreate(BaseModel):
    """config by type: mysql/postgresql host, database, username (+ port, password);
    redis host (+ port, db_index, username, password); csv upload_id (+ delimiter);
    json upload_id (+ records_key); api url (+ headers); mongodb host (+ port, database,
    username, password); s3 bucket (+ region, endpoint_url, access_key_id, secret_access_key)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Text = ""
    type: SourceType
    config: SourceConfig


class DataSourceUpdate(BaseModel):
    """Partial: config fields given replace the stored ones (null removes an optional one,
    an empty password clears it); the type cannot change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Text | None = None
    config: SourceConfig | None = None


class DataSourceRead(BaseModel):
    id: str
    owner_id: str
    name: str
    description: str
    type: SourceType
    config: dict[str, Any]
    has_password: bool
    secrets_set: list[str]
    supported: bool
    last_tested_at: datetime | None
    last_test_ok: bool | None
    created_at: datetime
    updated_at: datetime


class DataSourceList(BaseModel):
    items: list[DataSourceRead]
    total: int
    page: int
    page_size: int


FilterValue = Annotated[str, StringConstraints(max_length=1_000)] | int | float | bool | None


class RowFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(min_length=1, max_length=200)
    op: Literal["eq", "ne", "contains", "gt", "gte", "lt", "lte"] = "eq"
    value: FilterValue = None


class DataSourceQuery(BaseModel):
    """What to read, by type: `sql` (mysql, postgresql); `command` + `args` (redis: GET, MGET,
    HGET, HGETALL, HKEYS, HLEN, LRANGE, LLEN, SMEMBERS, SCARD, ZRANGE, ZCARD, TYPE, TTL,
    EXISTS, STRLEN, KEYS, SCAN, DBSIZE, PING); `filters`/`columns`/`offset` (csv, json);
    `path` + `params` (api, a GET)."""

    model_config = ConfigDict(extra="forbid")

    sql: str | None = Field(default=None, min_length=1, max_length=20_000)
    command: str | None = Field(default=None, min_length=1, max_length=20)
    args: list[Annotated[str, StringConstraints(max_length=1_024)]] = Field(
        default_factory=list, max_length=10
    )
    filters: list[RowFilter] = Field(default_factory=list, max_length=20)
    columns: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )
    offset: int = Field(default=0, ge=0, le=1_000_000)
    path: str | None = Field(default=None, max_length=2_000)
    params: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=200)],
        Annotated[str, StringConstraints(max_length=2_000)],
    ] = Field(default_factory=dict, max_length=50)
    limit: int = Field(default=100, ge=1, le=1_000)
    timeout_s: float = Field(default=15.0, ge=0.5, le=60.0)


class QueryResult(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    # More rows matched than `limit` allowed.
    truncated: bool
    elapsed_ms: float
    # Redis and API answers as they came (JSON-safe); API status code.
    result: Any = None
    status_code: int | None = None


class ConnectionTestResult(BaseModel):
    ok: bool
    latency_ms: float
    server_version: str | None = None
    error: str | None = None
    message: str | None = None


class UploadRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    size: int
    content_type: str
    sha256: str
    created_at: datetime


class UploadPreview(BaseModel):
    id: str
    name: str
    size: int
    content_type: str
    # text, markdown, csv, json or binary (metadata only).
    kind: Literal["text", "markdown", "csv", "json", "binary"]
    encoding: str | None
    lines: list[str] | None = None
    columns: list[str] | None = None
    rows: list[list[Any]] | None = None
    data: Any = None
    truncated: bool = False
