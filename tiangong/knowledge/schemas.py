from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

SearchMode = Literal["vector", "keyword", "hybrid"]
EmbeddingProvider = Literal["local", "openai"]
DocumentStatus = Literal["queued", "parsing", "embedding", "ready", "failed"]


class RerankSettings(BaseModel):
    """An OpenAI-compatible or Jina/Cohere-style /rerank endpoint."""

    base_url: AnyHttpUrl
    model: str = Field(min_length=1, max_length=200)
    # The request and response spelling: jina and cohere use `results`/`relevance_score`.
    style: Literal["jina", "cohere", "openai"] = "jina"
    # Omit to keep a stored key (on update); "" removes it.
    api_key: str | None = Field(default=None, max_length=4000)
    # How many fused candidates go to the reranker; the best top_k of them are kept.
    candidates: int = Field(default=20, ge=1, le=200)


class _Settings(BaseModel):
    @model_validator(mode="after")
    def _overlap_below_size(self) -> _Settings:
        size = getattr(self, "chunk_tokens", None)
        overlap = getattr(self, "chunk_overlap", None)
        if size is not None and overlap is not None and overlap >= size:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        return self


class KnowledgeBaseCreate(_Settings):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=4000)
    chunk_tokens: int = Field(default=400, ge=50, le=4000)
    chunk_overlap: int = Field(default=50, ge=0, le=1000)
    embedding_provider: EmbeddingProvider = "local"
    # local: the bundled model (leave empty); openai: the model name at embedding_base_url.
    embedding_model: str | None = Field(default=None, min_length=1, max_length=200)
    embedding_dim: int | None = Field(default=None, ge=1, le=16000)
    embedding_base_url: AnyHttpUrl | None = None
    embedding_api_key: str | None = Field(default=None, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=100)
    # Minimum vector similarity (cosine, -1..1); keyword-only hits are not filtered by it.
    score_threshold: float | None = Field(default=None, ge=-1, le=1)
    search_mode: SearchMode = "hybrid"
    rerank: RerankSettings | None = None

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _openai_needs_endpoint(self) -> KnowledgeBaseCreate:
        if self.embedding_provider == "openai":
            missing = [
                name
                for name in ("embedding_model", "embedding_dim", "embedding_base_url")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"the openai embedding provider needs {', '.join(missing)}")
        return self


class KnowledgeBaseUpdate(_Settings):
    """Changing chunking or the embedding model re-indexes every document."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=4000)
    chunk_tokens: int | None = Field(default=None, ge=50, le=4000)
    chunk_overlap: int | None = Field(default=None, ge=0, le=1000)
    embedding_provider: EmbeddingProvider | None = None
    embedding_model: str | None = Field(default=None, min_length=1, max_length=200)
    embedding_dim: int | None = Field(default=None, ge=1, le=16000)
    embedding_base_url: AnyHttpUrl | None = None
    # Omit to keep the stored key; "" removes it.
    embedding_api_key: str | None = Field(default=None, max_length=4000)
    top_k: int | None = Field(default=None, ge=1, le=100)
    score_threshold: float | None = Field(default=None, ge=-1, le=1)
    search_mode: SearchMode | None = None
    # null removes the rerank step.
    rerank: RerankSettings | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> KnowledgeBaseUpdate:
        if not self.model_fields_set:
            raise ValueError("at least one field must be given")
        return self


class RerankRead(BaseModel):
    base_url: str
    model: str
    style: str
    candidates: int
    api_key_set: bool
    api_key_masked: str | None


class KnowledgeBaseRead(BaseModel):
    id: str
    owner_id: str
    name: str
    description: str
    chunk_tokens: int
    chunk_overlap: int
    embedding_provider: str
    embedding_model: str
    embedding_dim: int
    embedding_base_url: str | None
    embedding_api_key_set: bool
    embedding_api_key_masked: str | None
    top_k: int
    score_threshold: float | None
    search_mode: str
    rerank: RerankRead | None
    document_count: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class KnowledgeBaseList(BaseModel):
    items: list[KnowledgeBaseRead]
    total: int
    page: int
    page_size: int


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kb_id: str
    name: str
    source: str
    url: str | None
    content_type: str | None
    size: int
    content_hash: str | None
    status: DocumentStatus
    progress: float
    chunk_count: int
    error: str | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DocumentList(BaseModel):
    items: list[DocumentRead]
    total: int


class DocumentsQueued(BaseModel):
    items: list[DocumentRead]


class TextOrUrlDocument(BaseModel):
    """The JSON form of POST /documents: raw text or a URL to fetch."""

    text: str | None = Field(default=None, min_length=1)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    name: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _one_source(self) -> TextOrUrlDocument:
        if (self.text is None) == (self.url is None):
            raise ValueError("give exactly one of 'text' or 'url'")
        return self


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    top_k: int | None = Field(default=None, ge=1, le=100)
    mode: SearchMode | None = None
    score_threshold: float | None = Field(default=None, ge=-1, le=1)


class SearchHit(BaseModel):
    chunk_id: str
    kb_id: str
    document_id: str
    document_name: str
    position: int
    heading: str | None
    text: str
    # The ranking score of the mode used: cosine similarity (vector), BM25 (keyword), RRF
    # (hybrid), or the reranker's relevance when a rerank step ran.
    score: float
    vector_score: float | None = None
    keyword_score: float | None = None
    highlights: list[str] = Field(default_factory=list)


class SearchResult(BaseModel):
    query: str
    mode: SearchMode
    reranked: bool = False
    hits: list[SearchHit]


class RagRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    stream: bool = False
    # A model config id, name or alias; default: the caller's default model.
    model: str | None = Field(default=None, max_length=200)
    top_k: int | None = Field(default=None, ge=1, le=50)
    mode: SearchMode | None = None


class Citation(BaseModel):
    """Source [index] of an answer."""

    index: int
    kb_id: str
    document_id: str
    document_name: str
    chunk_id: str
    position: int
    score: float
    text: str


class RagAnswer(BaseModel):
    answer: str
    citations: list[Citation]
    model: str
    token_usage: dict[str, int] = Field(default_factory=dict)
