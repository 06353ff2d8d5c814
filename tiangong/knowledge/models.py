"""Knowledge bases, their documents and the chunks retrieval searches.

The chunk rows are the record: text, jieba keywords and the float32 embedding. Vector indexes
(the in-process one, or pgvector's `chunk_vectors` table) are rebuilt from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from tiangong.db.base import Base, IdMixin, TimestampMixin, UTCDateTime

# MySQL TEXT stops at 64 KB; a chunk of long CJK text or its keyword list can pass that.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql")


class KnowledgeBase(IdMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_bases"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    owner_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    chunk_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=400)
    chunk_overlap: Mapped[int] = mapped_column(Integer, nullable=False, default=50)
    # local | openai. Model and dim are recorded so a change re-indexes instead of mixing vectors.
    embedding_provider: Mapped[str] = mapped_column(String(16), nullable=False, default="local")
    embedding_model: Mapped[str] = mapped_column(String(200), nullable=False)
    embedding_dim: Mapped[int] = mapped_column(Integer, nullable=False)
    embedding_base_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    embedding_api_key_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    embedding_api_key_hint: Mapped[str | None] = mapped_column(String(16), nullable=True)
    top_k: Mapped[int] = mapped_column(Integer, nullable=False, default=5)
    score_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    # vector | keyword | hybrid
    search_mode: Mapped[str] = mapped_column(String(16), nullable=False, default="hybrid")
    # {"base_url", "model", "style", "top_n"}; None: no rerank step.
    rerank_config: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    rerank_api_key_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    rerank_api_key_hint: Mapped[str | None] = mapped_column(String(16), nullable=True)
    document_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Bumped whenever the searchable chunk set changes; every process rebuilds its in-memory
    # indexes of this knowledge base when the number it cached is older.
    index_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Document(IdMixin, TimestampMixin, Base):
    """One ingested source. The raw bytes live in data_dir/knowledge/<kb>/<doc>, not here."""

    __tablename__ = "knowledge_documents"

    kb_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    # upload | text | url
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # queued | parsing | embedding | ready | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    chunk_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    # Runs started since the document was queued by a user; past a limit it stops resuming.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The run that owns the document now. A job writes only while this is still its own, so a
    # run that was superseded (deleted, re-queued, taken over) cannot mix in its chunks.
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Refreshed by the process running the job; a stale one means that process died.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Chunk(IdMixin, Base):
    __tablename__ = "knowledge_chunks"

    kb_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    document_id: Mapped[str] = mapped_column(
        String(36),
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(LongText, nullable=False)
    token_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    start_char: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    end_char: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    heading: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Space-joined jieba tokens, so keyword search never re-segments stored text.
    keywords: Mapped[str] = mapped_column(LongText, nullable=False, default="")
    # float32 little-endian, embedding_dim values.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
