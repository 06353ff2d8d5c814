"""Vectors in PostgreSQL with pgvector; keywords stay on the BM25 path of the embedded store
(over the stored jieba `keywords`), because PostgreSQL's full-text ranking is not BM25 and
keyword scores should not change with the database.

`chunk_vectors` is created here, not by a migration, because it needs the extension, which a
PostgreSQL without pgvector does not have. One table holds every dimension: the column is an
untyped `vector`, and each dimension gets its own partial HNSW index over a cast, which is how
pgvector indexes vectors of several sizes in one column.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tiangong.knowledge.spec import KbSpec
from tiangong.knowledge.store import EmbeddedStore
from tiangong.runtime.rag.types import ScoredId

log = logging.getLogger(__name__)

# pgvector's HNSW indexes `vector` up to 2,000 dimensions; larger ones are searched exactly.
HNSW_MAX_DIM = 2000

_TABLE = """
CREATE TABLE IF NOT EXISTS chunk_vectors (
    chunk_id VARCHAR(36) PRIMARY KEY REFERENCES knowledge_chunks (id) ON DELETE CASCADE,
    kb_id VARCHAR(36) NOT NULL,
    document_id VARCHAR(36) NOT NULL,
    dim INTEGER NOT NULL,
    embedding vector NOT NULL
)
"""


def _literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


class PgVectorStore(EmbeddedStore):
    name = "pgvector"
    dense_in_memory = False

    def __init__(self) -> None:
        super().__init__()
        self._engine: AsyncEngine | None = None
        self._indexed_dims: set[int] = set()
        self._iterative_scan = False

    async def setup(self, engine: AsyncEngine) -> None:
        """Fails (and the caller falls back) when the server has no pgvector."""
        async with engine.begin() as conn:
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            await conn.execute(text(_TABLE))
            await conn.execute(
                text("CREATE INDEX IF NOT EXISTS ix_chunk_vectors_kb_id ON chunk_vectors (kb_id)")
            )
            await conn.execute(
                text(
                    "CREATE INDEX IF NOT EXISTS ix_chunk_vectors_document_id "
                    "ON chunk_vectors (document_id)"
                )
            )
            version = await conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            )
            major, minor = (int(part) for part in version.scalar_one().split(".")[:2])
        # 0.8 added iterative index scans; older versions reject the setting.
        self._iterative_scan = (major, minor) >= (0, 8)
        self._engine = engine

    async def _ensure_index(self, dim: int) -> None:
        # Its own transaction: CREATE INDEX locks the table against writes until commit.
        if dim in self._indexed_dims or dim > HNSW_MAX_DIM or self._engine is None:
            return
        statement = (
            f"CREATE INDEX IF NOT EXISTS ix_chunk_vectors_hnsw_{dim} ON chunk_vectors "
            f"USING hnsw ((embedding::vector({dim})) vector_cosine_ops) WHERE dim = {dim}"
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(text(statement))
        except Exception as exc:  # noqa: BLE001 - another process may be creating it too
            log.warning("creating the HNSW index for dim %d failed: %s", dim, exc)
            return
        self._indexed_dims.add(dim)

    async def add(
        self,
        session: AsyncSession,
        kb: KbSpec,
        document_id: str,
        chunk_ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        if not chunk_ids:
            return
        await self._ensure_index(kb.embedding_dim)
        # The vector goes in as text: asyncpg has no codec for the extension's type.
        await session.execute(
            text(
                "INSERT INTO chunk_vectors (chunk_id, kb_id, document_id, dim, embedding) "
                "VALUES (:chunk_id, :kb_id, :document_id, :dim, CAST(CAST(:v AS text) AS vector))"
            ),
            [
                {
                    "chunk_id": chunk_id,
                    "kb_id": kb.id,
                    "document_id": document_id,
                    "dim": len(vector),
                    "v": _literal(vector),
                }
                for chunk_id, vector in zip(chunk_ids, vectors, strict=True)
            ],
        )

    async def remove(
        self, session: AsyncSession, kb_id: str, document_id: str | None = None
    ) -> None:
        if document_id is None:
            await session.execute(
                text("DELETE FROM chunk_vectors WHERE kb_id = :kb"), {"kb": kb_id}
            )
        else:
            await session.execute(
                text("DELETE FROM chunk_vectors WHERE document_id = :doc"), {"doc": document_id}
            )
        await super().remove(session, kb_id, document_id)

    async def dense(
        self, session: AsyncSession, kb: KbSpec, vector: Sequence[float], k: int
    ) -> list[ScoredId]:
        dim = kb.embedding_dim
        if len(vector) != dim:
            return []
        if self._iterative_scan:
            # Filtered HNSW scans stop early without this; relaxed order keeps filling up to k.
            await session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        distance = f"v.embedding::vector({dim}) <=> CAST(CAST(:q AS text) AS vector({dim}))"
        rows = await session.execute(
            text(
                f"SELECT v.chunk_id, 1 - ({distance}) AS score FROM chunk_vectors v "  # noqa: S608 - dim is an int
                "JOIN knowledge_documents d ON d.id = v.document_id "
                f"WHERE v.kb_id = :kb AND v.dim = {dim} AND d.status = 'ready' "
                f"ORDER BY {distance} LIMIT :k"
            ),
            {"q": _literal(vector), "kb": kb.id, "k": k},
        )
        return [ScoredId(str(chunk_id), float(score)) for chunk_id, score in rows.tuples()]
