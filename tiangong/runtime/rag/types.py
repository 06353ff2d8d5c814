"""Shared types of the RAG engine: parsed documents, chunks, embedders, scored hits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ParsedDocument:
    """Text extracted from a file, with structure kept as text: headings as lines of their own,
    table rows as `a | b | c` lines, paragraphs separated by blank lines."""

    text: str
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    token_count: int
    # Character offsets of the chunk in ParsedDocument.text.
    start: int
    end: int
    # The nearest heading above the chunk, if the document had headings.
    heading: str | None = None


class Embedder(Protocol):
    """Turns text into vectors. `model` and `dim` are recorded per knowledge base so a change
    re-indexes instead of mixing vectors."""

    @property
    def model(self) -> str: ...

    @property
    def dim(self) -> int: ...

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def embed_query(self, text: str) -> list[float]: ...


@dataclass(frozen=True)
class ScoredId:
    """A hit from one retriever: an id (chunk id) and that retriever's score."""

    id: str
    score: float
