"""Where chunk vectors and keywords are searched.

The chunk rows in the database are the record (text, keywords, float32 embedding); a store is
an index over them. `EmbeddedStore`, the default, needs no server: each process keeps per
knowledge base an exact cosine index and a BM25 index in memory, built from the rows and
rebuilt when the knowledge base's `index_version` moves past the one it built (so a change made
by another process is seen too). `PgVectorStore` keeps the vectors in pgvector instead.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tiangong.knowledge import repository
from tiangong.knowledge.models import KnowledgeBase
from tiangong.knowledge.spec import KbSpec
from tiangong.runtime.rag.index import BM25Index, DenseIndex
from tiangong.runtime.rag.types import ScoredId

log = logging.getLogger(__name__)

# Knowledge bases whose indexes one process keeps in memory at most (least recently used go).
MAX_CACHED = 64


def to_bytes(vector: Sequence[float]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.frombuffer(blob, dtype="<f4")


class ChunkStore(ABC):
    """One interface for vectors and keywords. Chunk rows are written by the caller in the same
    transaction as `add`/`remove`, so a store never sees half of a change."""

    name: str

    async def setup(self, engine: AsyncEngine) -> None:  # noqa: B027 - most stores need none
        """Create what the store needs outside the migrations (extensions, tables)."""

    @abstractmethod
    async def add(
        self,
        session: AsyncSession,
        kb: KbSpec,
        document_id: str,
        chunk_ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        """Index the vectors of chunk rows added (and flushed) in this session."""

    @abstractmethod
    async def remove(
        self, session: AsyncSession, kb_id: str, document_id: str | None = None
    ) -> None:
        """Drop the vectors of one document, or of the whole knowledge base."""

    @abstractmethod
    async def dense(
        self, session: AsyncSession, kb: KbSpec, vector: Sequence[float], k: int
    ) -> list[ScoredId]: ...

    @abstractmethod
    async def keyword(
        self, session: AsyncSession, kb: KbSpec, tokens: Sequence[str], k: int
    ) -> list[ScoredId]: ...


@dataclass
class _Indexes:
    version: int
    bm25: BM25Index
    dense: DenseIndex | None


def _build(rows: list[Any], dim: int, with_dense: bool) -> _Indexes:
    bm25 = BM25Index()
    dense = DenseIndex(dim) if with_dense else None
    ids: list[str] = []
    vectors: list[Any] = []
    for chunk_id, keywords, embedding in rows:
        bm25.add(chunk_id, keywords.split())
        # A vector of another size is left over from before a model change; never mix them.
        if dense is not None and embedding is not None and len(embedding) == dim * 4:
            ids.append(chunk_id)
            vectors.append(from_bytes(embedding))
    if dense is not None and ids:
        dense.add(ids, np.vstack(vectors))
    return _Indexes(version=-1, bm25=bm25, dense=dense)


class EmbeddedStore(ChunkStore):
    name = "embedded"
    # PgVectorStore keeps only the keyword half in memory.
    dense_in_memory = True

    def __init__(self) -> None:
        self._cache: OrderedDict[str, _Indexes] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def add(
        self,
        session: AsyncSession,
        kb: KbSpec,
        document_id: str,
        chunk_ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        # The rows carry the vectors; the version bump that makes them searchable rebuilds.
        return None

    async def remove(
        self, session: AsyncSession, kb_id: str, document_id: str | None = None
    ) -> None:
        if document_id is None:
            self._cache.pop(kb_id, None)

    async def _indexes(self, session: AsyncSession, kb: KbSpec) -> _Indexes:
        cached = self._cache.get(kb.id)
        if cached is not None and cached.version >= kb.index_version:
            self._cache.move_to_end(kb.id)
            return cached
        lock = self._locks.setdefault(kb.id, asyncio.Lock())
        async with lock:
            cached = self._cache.get(kb.id)
            if cached is not None and cached.version >= kb.index_version:
                return cached
            # Read the version with the rows, so the cache is labelled with what it holds.
            version = (
                await session.execute(
                    select(KnowledgeBase.index_version).where(KnowledgeBase.id == kb.id)
                )
            ).scalar_one_or_none()
            rows = await repository.searchable_chunks(
                session, kb.id, with_embeddings=self.dense_in_memory
            )
            built = await asyncio.to_thread(_build, rows, kb.embedding_dim, self.dense_in_memory)
            built.version = version if version is not None else kb.index_version
            self._cache[kb.id] = built
            self._cache.move_to_end(kb.id)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
            log.debug("knowledge base %s indexed: %d chunks", kb.id, len(built.bm25))
            return built

    async def dense(
        self, session: AsyncSession, kb: KbSpec, vector: Sequence[float], k: int
    ) -> list[ScoredId]:
        indexes = await self._indexes(session, kb)
        if indexes.dense is None or len(vector) != kb.embedding_dim:
            return []
        return indexes.dense.search(vector, k)

    async def keyword(
        self, session: AsyncSession, kb: KbSpec, tokens: Sequence[str], k: int
    ) -> list[ScoredId]:
        if not tokens:
            return []
        return (await self._indexes(session, kb)).bm25.search(tokens, k)


_current: ChunkStore = EmbeddedStore()


def current() -> ChunkStore:
    return _current


def use(store: ChunkStore) -> None:
    global _current
    _current = store
