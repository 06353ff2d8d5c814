"""A knowledge base's settings as plain data, so jobs and searches outlive the session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tiangong.knowledge.models import KnowledgeBase


@dataclass(frozen=True)
class KbSpec:
    id: str
    owner_id: str
    name: str
    index_version: int
    chunk_tokens: int
    chunk_overlap: int
    embedding_provider: str
    embedding_model: str
    embedding_dim: int
    embedding_base_url: str | None
    embedding_api_key_encrypted: str | None
    top_k: int
    score_threshold: float | None
    search_mode: str
    rerank_config: dict[str, Any] | None
    rerank_api_key_encrypted: str | None


def spec_of(kb: KnowledgeBase) -> KbSpec:
    return KbSpec(
        id=kb.id,
        owner_id=kb.owner_id,
        name=kb.name,
        index_version=kb.index_version,
        chunk_tokens=kb.chunk_tokens,
        chunk_overlap=kb.chunk_overlap,
        embedding_provider=kb.embedding_provider,
        embedding_model=kb.embedding_model,
        embedding_dim=kb.embedding_dim,
        embedding_base_url=kb.embedding_base_url,
        embedding_api_key_encrypted=kb.embedding_api_key_encrypted,
        top_k=kb.top_k,
        score_threshold=kb.score_threshold,
        search_mode=kb.search_mode,
        rerank_config=dict(kb.rerank_config) if kb.rerank_config else None,
        rerank_api_key_encrypted=kb.rerank_api_key_encrypted,
    )
