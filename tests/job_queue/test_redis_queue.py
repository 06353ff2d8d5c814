"""The Redis Streams job queue on a real Redis: delivery, the concurrency limit, acks, and a
dead consumer's job taken over after the lease and ingested exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.backends import REDIS_URL
from tiangong.db.base import new_id, utcnow
from tiangong.db.engine import session_factory
from tiangong.knowledge import files, ingest
from tiangong.knowledge.engines import local_embedder
from tiangong.knowledge.models import Chunk, Document
from tiangong.queue.redis_streams import GROUP, RedisStreamQueue
from tiangong.runtime.rag.types import Embedder

TEXT = "# Weather\n\nThe weather in Hangzhou is mild in spring, with frequent rain.\n"


@pytest.fixture
async def queue() -> AsyncIterator[RedisStreamQueue]:
    q = RedisStreamQueue(REDIS_URL, f"tgtest:queue:{new_id()[:8]}:", lease_s=1.0)
    yield q
    keys = [key async for key in q.client.scan_iter(match=f"{q.prefix}*")]
    if keys:
        await q.client.delete(*keys)
    await q.close()


async def _until(check: Any, seconds: float = 30) -> None:
    for _ in range(int(seconds * 20)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_jobs_are_consumed_within_the_concurrency_limit_and_acked(
    queue: RedisStreamQueue,
) -> None:
    done: list[str] = []
    running = 0
    most = 0

    async def handler(job_id: str) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.1)
        running -= 1
        done.append(job_id)

    for i in range(6):
        await queue.enqueue("demo", f"job-{i}")
    consumer = queue.consumer("demo", handler, concurrency=2)
    await consumer.start()
    try:

        async def all_done() -> bool:
            return len(done) == 6

        await _until(all_done)
        await consumer.idle()
    finally:
        await consumer.stop(grace_s=1)
    assert sorted(done) == [f"job-{i}" for i in range(6)]
    assert most == 2
    stream = queue.stream("demo")
    pending = await queue.client.xpending(stream, GROUP)
    assert pending["pending"] == 0
    assert await queue.client.xlen(stream) == 0  # acked messages are deleted too


async def test_a_job_that_crashes_is_still_acked_and_the_consumer_goes_on(
    queue: RedisStreamQueue,
) -> None:
    seen: list[str] = []

    async def handler(job_id: str) -> None:
        seen.append(job_id)
        if job_id == "bad":
            raise RuntimeError("boom")

    consumer = queue.consumer("demo", handler, concurrency=1)
    await consumer.start()
    try:
        await queue.enqueue("demo", "bad")
        await queue.enqueue("demo", "good")

        async def both() -> bool:
            return seen == ["bad", "good"]

        await _until(both)
        await consumer.idle()
    finally:
        await consumer.stop(grace_s=1)
    assert (await queue.client.xpending(queue.stream("demo"), GROUP))["pending"] == 0


class GatedEmbedder:
    """Blocks inside the embedding step until released, so the job can be killed mid-way."""

    def __init__(self, real: Embedder) -> None:
        self.real, self.started = real, asyncio.Event()

    @property
    def model(self) -> str:
        return self.real.model

    @property
    def dim(self) -> int:
        return self.real.dim

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.started.set()
        await asyncio.sleep(600)
        raise AssertionError("unreachable")

    async def embed_query(self, text: str) -> list[float]:
        return await self.real.embed_query(text)


async def _document(kb_id: str) -> str:
    doc_id = new_id()
    data = TEXT.encode()
    await files.save(kb_id, doc_id, data)
    async with session_factory()() as session:
        session.add(
            Document(
                id=doc_id,
                kb_id=kb_id,
                name="weather.md",
                source="upload",
                content_type="text/markdown",
                size=len(data),
                status="queued",
                heartbeat_at=utcnow(),
            )
        )
        await session.commit()
    return doc_id


async def test_a_dead_consumers_job_is_taken_over_after_the_lease_and_ingested_once(
    queue: RedisStreamQueue,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = await client.post(
        "/api/v1/knowledge-bases", json={"name": "broker"}, headers=user_headers
    )
    assert created.status_code == 201, created.text
    kb_id = created.json()["id"]
    doc_id = await _document(kb_id)
    gated = GatedEmbedder(local_embedder())
    monkeypatch.setattr(ingest, "embedder_for", lambda kb: gated)
    runs: list[str] = []

    async def handler(job_id: str) -> None:
        runs.append(job_id)
        await ingest.run(job_id)

    dying = queue.consumer("ingest", handler, concurrency=1)
    await dying.start()
    await queue.enqueue("ingest", doc_id)
    await asyncio.wait_for(gated.started.wait(), timeout=60)
    # The worker dies mid-job: its task is cancelled and it never acknowledges the message.
    await dying.stop(grace_s=0)
    stream = queue.stream("ingest")
    assert (await queue.client.xpending(stream, GROUP))["pending"] == 1
    monkeypatch.undo()

    survivor = queue.consumer("ingest", handler, concurrency=1)
    await survivor.start()
    try:

        async def ready() -> bool:
            async with session_factory()() as session:
                doc = await session.get(Document, doc_id)
                return doc is not None and doc.status == "ready"

        await _until(ready, seconds=60)
        # A second delivery of the same job (at-least-once) must not ingest it again.
        await queue.enqueue("ingest", doc_id)

        async def three_runs() -> bool:
            return len(runs) == 3

        await _until(three_runs)
        await survivor.idle()
    finally:
        await survivor.stop(grace_s=5)
    async with session_factory()() as session:
        doc = await session.get(Document, doc_id)
        assert doc is not None
        chunks = await session.scalar(
            select(func.count()).select_from(Chunk).where(Chunk.document_id == doc_id)
        )
    assert (doc.status, doc.attempts) == ("ready", 1)
    assert doc.chunk_count == chunks >= 1
    assert (await queue.client.xpending(stream, GROUP))["pending"] == 0
