"""Knowledge ingestion scaled out: an API process that does not run workers only enqueues on
Redis Streams, and a separate `tiangong worker` process ingests the document."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.backends import REDIS_URL
from tiangong.config import Settings
from tiangong.db.base import new_id
from tiangong.knowledge import jobs
from tiangong.queue import make_queue
from tiangong.queue.redis_streams import RedisStreamQueue

KB = "/api/v1/knowledge-bases"
# The installed console script, as an operator would run it.
TIANGONG = str(Path(sys.executable).parent / "tiangong")
TEXT = (
    "# 信息检索\n\n信息检索系统帮助用户从大量文档中找到需要的内容。检索的质量取决于分词和排序。\n"
)


@pytest.fixture
async def broker(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RedisStreamQueue]:
    """This API process, reconfigured: queue_url set, run_workers off, a private key prefix."""
    settings = Settings(
        queue_url=REDIS_URL, run_workers=False, cache_prefix=f"tgtest:broker:{new_id()[:8]}:"
    )
    queue = make_queue(settings)
    assert isinstance(queue, RedisStreamQueue)
    runner = jobs.build_runner(settings, queue)
    assert not runner.consuming
    monkeypatch.setattr(jobs, "_runner", runner)
    yield queue
    await runner.stop()
    keys = [key async for key in queue.client.scan_iter(match=f"{queue.prefix}*")]
    if keys:
        await queue.client.delete(*keys)
    await queue.close()


def _worker_env(queue: RedisStreamQueue) -> dict[str, str]:
    # Same database, data dir (keys, files) and log level as this test run: tests/backends.py
    # put them in the environment. run_workers=false proves a worker consumes regardless.
    return {
        **os.environ,
        "TIANGONG_QUEUE_URL": REDIS_URL,
        "TIANGONG_CACHE_PREFIX": queue.prefix,
        "TIANGONG_RUN_WORKERS": "false",
    }


async def _status(client: httpx.AsyncClient, headers: dict[str, str], kb: str, doc: str) -> str:
    response = await client.get(f"{KB}/{kb}/documents/{doc}", headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def test_api_without_workers_only_enqueues_and_a_worker_process_ingests(
    client: httpx.AsyncClient, user_headers: dict[str, str], broker: RedisStreamQueue
) -> None:
    created = await client.post(KB, json={"name": "scaled"}, headers=user_headers)
    assert created.status_code == 201, created.text
    kb_id = created.json()["id"]
    added = await client.post(
        f"{KB}/{kb_id}/documents", json={"text": TEXT, "name": "r.md"}, headers=user_headers
    )
    assert added.status_code == 202, added.text
    doc_id = added.json()["items"][0]["id"]
    await jobs.runner().idle()
    stream = broker.stream(jobs.QUEUE)
    messages = await broker.client.xrange(stream)
    assert [fields["job"] for _, fields in messages] == [doc_id]
    await asyncio.sleep(1)
    assert await _status(client, user_headers, kb_id, doc_id) == "queued"

    worker = await asyncio.create_subprocess_exec(
        TIANGONG, "worker", "--grace", "5", env=_worker_env(broker)
    )
    try:
        for _ in range(1200):
            status = await _status(client, user_headers, kb_id, doc_id)
            if status in ("ready", "failed"):
                break
            assert worker.returncode is None, "the worker exited early"
            await asyncio.sleep(0.1)
        assert status == "ready"
        found = await client.post(
            f"{KB}/{kb_id}/search", json={"query": "检索", "mode": "keyword"}, headers=user_headers
        )
        assert found.status_code == 200, found.text
        assert found.json()["hits"][0]["document_id"] == doc_id
        assert (await broker.client.xpending(stream, "workers"))["pending"] == 0
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), timeout=30) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()


async def test_worker_refuses_to_start_without_a_shared_queue() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIANGONG_QUEUE_URL"}
    worker = await asyncio.create_subprocess_exec(
        TIANGONG, "worker", env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(worker.communicate(), timeout=60)
    assert worker.returncode == 2
    assert b"TIANGONG_QUEUE_URL" in err
