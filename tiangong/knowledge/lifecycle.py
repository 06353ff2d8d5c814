"""Start and stop the knowledge module with the app or a worker: pick the store, run the jobs."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from tiangong.db.engine import get_engine
from tiangong.knowledge import jobs
from tiangong.knowledge import store as stores
from tiangong.knowledge.pgvector_store import PgVectorStore

log = logging.getLogger(__name__)


async def choose_store(engine: AsyncEngine) -> stores.ChunkStore:
    """pgvector on a PostgreSQL that has (or can create) the extension; else the embedded one."""
    if engine.dialect.name == "postgresql":
        candidate = PgVectorStore()
        try:
            await candidate.setup(engine)
            return candidate
        except Exception as exc:  # noqa: BLE001 - no pgvector on this server: keep the default
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            log.warning("pgvector is not available (%s); using the embedded store", reason)
    return stores.EmbeddedStore()


async def start() -> None:
    stores.use(await choose_store(get_engine()))
    log.info("knowledge store: %s", stores.current().name)
    runner = jobs.runner()
    await runner.start()
    if not runner.consuming:
        log.info("ingestion jobs go to the queue; this process does not run them")


async def stop() -> None:
    await jobs.shutdown()


class IngestionWorker:
    """The knowledge module's part of `tiangong worker`: consume ingestion jobs and recover."""

    name = "knowledge ingestion"

    async def start(self) -> None:
        stores.use(await choose_store(get_engine()))
        await jobs.worker_runner().start()

    async def stop(self, grace_s: float) -> None:
        await jobs.runner().stop(grace_s)
