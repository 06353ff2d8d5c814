"""Settings: one object, read from TIANGONG_* environment variables (or a .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DB_SCHEMES = (
    "sqlite+aiosqlite://",
    "postgresql+asyncpg://",
    "mysql+asyncmy://",
    "mysql+aiomysql://",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIANGONG_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None
    redis_url: str | None = None
    # Keys namespace in a shared Redis, so several deployments (or test runs) can share one.
    cache_prefix: str = "tg:"
    # Background jobs: empty runs them in-process; "redis://..." puts them on Redis Streams for
    # `tiangong worker` processes. run_workers=False keeps API processes from consuming (only
    # meaningful with a broker: an in-process queue can only be consumed by its own process).
    queue_url: str | None = None
    run_workers: bool = True

    host: str = "127.0.0.1"
    port: int = 8038

    # Empty means "generate once and keep in the data dir"; never a shipped default.
    secret_key: str | None = None
    encryption_key: str | None = None
    access_token_minutes: int = Field(default=60 * 24, ge=1)

    # argon2id cost; the defaults follow RFC 9106's second recommendation.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65536, ge=1024)

    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)

    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None

    # How long a tool call that needs approval waits for the user before it is refused.
    tool_approval_timeout_s: float = Field(default=600, gt=0)

    # How often each process looks for due agent/workflow schedules (tiangong/schedules).
    scheduler_tick_s: float = Field(default=1.0, gt=0)

    # A running workflow run refreshes its heartbeat this often; a run whose heartbeat is older
    # than `workflow_stale_after_s` is taken as orphaned (its worker died) and resumed.
    workflow_heartbeat_s: float = Field(default=5.0, gt=0)
    workflow_stale_after_s: float = Field(default=30.0, gt=0)

    # Feishu (Lark) bot (tiangong/feishu). The callback needs the verification token; replies
    # need app id and secret. With an encrypt key, Feishu sends AES-encrypted events.
    feishu_base_url: str = "https://open.feishu.cn"
    feishu_app_id: str | None = None
    feishu_app_secret: str | None = None
    feishu_verification_token: str | None = None
    feishu_encrypt_key: str | None = None
    # Used when a bound user has not chosen a default agent (if that user can see it).
    feishu_default_agent_id: str | None = None

    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    cors_origins: list[str] = []

    # Outbound HTTP to user-given URLs (tiangong.net). Private, loopback and metadata targets are
    # refused unless listed here as a CIDR ("10.1.2.0/24"), an IP, or an exact host name.
    http_allowlist: list[str] = []
    # Also open to the model configs of users who are not admins (a local Ollama or vLLM, say).
    # Admins' and shared configs, and TIANGONG_LLM_BASE_URL, may reach any address.
    llm_allowlist: list[str] = []
    http_max_response_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    http_timeout_s: float = Field(default=30.0, gt=0)

    # Knowledge base ingestion: largest upload or fetched document, and largest raw text.
    knowledge_max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    knowledge_max_text_chars: int = Field(default=2_000_000, ge=1)

    # Data sources (tiangong/data_sources): databases and Redis servers users connect to. Like
    # llm_allowlist, opens private or loopback hosts to users who are not admins.
    data_source_allowlist: list[str] = []
    # Largest workspace upload (POST /uploads), which CSV/JSON data sources read.
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)

    # Execution logs (finished runs) older than this are purged, unless the owner set a policy.
    execution_log_retention_days: int = Field(default=30, ge=1)
    execution_log_retention_interval_s: float = Field(default=3600, gt=0)
    execution_log_retention_batch: int = Field(default=500, ge=1)

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_DB_SCHEMES):
            raise ValueError(f"database_url must start with one of {', '.join(_DB_SCHEMES)}")
        return value

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tiangong.db').resolve()}"

    @property
    def db_backend(self) -> str:
        return self.db_url.split("+", 1)[0].split(":", 1)[0]


@lru_cache
def get_settings() -> Settings:
    return Settings()
