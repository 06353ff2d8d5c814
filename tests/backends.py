"""Which real database and cache this test run uses, and how to create and drop them.

TIANGONG_TEST_DB picks sqlite (default), postgres or mysql; TIANGONG_TEST_REDIS=1 turns Redis on.
Each run gets its own database, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

BACKEND = os.environ.get("TIANGONG_TEST_DB", "sqlite")
USE_REDIS = os.environ.get("TIANGONG_TEST_REDIS", "0") == "1"
PG_HOST = os.environ.get("TIANGONG_TEST_PG", "127.0.0.1:5432")
MYSQL_HOST = os.environ.get("TIANGONG_TEST_MYSQL", "127.0.0.1:3306")
REDIS_URL = os.environ.get("TIANGONG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

DB_NAME = f"tg_test_{os.getpid()}"
DATA_DIR = Path(tempfile.mkdtemp(prefix="tiangong-test-"))


def database_url() -> str:
    if BACKEND == "sqlite":
        return f"sqlite+aiosqlite:///{DATA_DIR / 'test.db'}"
    if BACKEND == "postgres":
        return f"postgresql+asyncpg://postgres@{PG_HOST}/{DB_NAME}"
    if BACKEND == "mysql":
        return f"mysql+asyncmy://root@{MYSQL_HOST}/{DB_NAME}?charset=utf8mb4"
    raise RuntimeError(f"unknown TIANGONG_TEST_DB={BACKEND!r}")


async def create_database() -> None:
    if BACKEND == "postgres":
        import asyncpg

        host, port = PG_HOST.split(":")
        conn = await asyncpg.connect(
            host=host, port=int(port), user="postgres", database="postgres"
        )
        await conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        await conn.close()
    elif BACKEND == "mysql":
        import asyncmy

        host, port = MYSQL_HOST.split(":")
        conn = await asyncmy.connect(host=host, port=int(port), user="root", password="")
        async with conn.cursor() as cur:
            await cur.execute(
                f"CREATE DATABASE `{DB_NAME}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        conn.close()


async def drop_database() -> None:
    if BACKEND == "postgres":
        import asyncpg

        host, port = PG_HOST.split(":")
        conn = await asyncpg.connect(
            host=host, port=int(port), user="postgres", database="postgres"
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        await conn.close()
    elif BACKEND == "mysql":
        import asyncmy

        host, port = MYSQL_HOST.split(":")
        conn = await asyncmy.connect(host=host, port=int(port), user="root", password="")
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{DB_NAME}`")
        conn.close()


def configure_environment() -> None:
    """Point the platform's settings at this run's database, cache and data dir."""
    for key in list(os.environ):
        if key.startswith("TIANGONG_LLM_"):
            del os.environ[key]
    # The fake LLM and fake embeddings servers listen on loopback, as a local Ollama would;
    # tests of the refusal itself clear this (tests/api/test_model_hosts.py).
    os.environ["TIANGONG_LLM_ALLOWLIST"] = '["127.0.0.1/32"]'
    os.environ["TIANGONG_DATA_DIR"] = str(DATA_DIR)
    os.environ["TIANGONG_DATABASE_URL"] = database_url()
    os.environ["TIANGONG_CACHE_PREFIX"] = f"tgtest:{os.getpid()}:"
    os.environ["TIANGONG_LOG_LEVEL"] = "WARNING"
    # Cheap hashes keep the suite fast; the hashing code path is the same.
    os.environ["TIANGONG_PASSWORD_HASH_TIME_COST"] = "1"
    os.environ["TIANGONG_PASSWORD_HASH_MEMORY_KIB"] = "8192"
    if USE_REDIS:
        os.environ["TIANGONG_REDIS_URL"] = REDIS_URL
    else:
        os.environ.pop("TIANGONG_REDIS_URL", None)
