"""The `knowledge_search` builtin tool. It searches through a callable the platform puts in
`ToolContext.extras["knowledge_search"]`, already limited to what the caller may read, so the
tool itself touches no database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tiangong.runtime.tools.base import Tool, ToolError
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool

EXTRA = "knowledge_search"

# search(query, top_k) -> hits shaped like KnowledgeHit
KnowledgeSearch = Callable[[str, int | None], Awaitable[list[dict[str, Any]]]]


class KnowledgeSearchInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1, max_length=2000, description="What to look for, in the user's words."
    )
    top_k: int | None = Field(
        default=None, ge=1, le=20, description="How many passages to return (default: 5)."
    )


class KnowledgeHit(BaseModel):
    index: int = Field(description="Cite this passage as [index] in the answer.")
    document_name: str
    document_id: str
    chunk_id: str
    position: int
    score: float
    text: str


class KnowledgeSearchOutput(BaseModel):
    hits: list[KnowledgeHit]


@builtin_tool
class KnowledgeSearchTool(Tool):
    name = "knowledge_search"
    description = (
        "Search the knowledge bases available to this conversation (uploaded documents, "
        "Chinese and English) and return the most relevant passages with their source. Cite "
        "a passage you use as [index]."
    )
    category = "knowledge"
    Input = KnowledgeSearchInput
    Output = KnowledgeSearchOutput

    async def run(self, args: KnowledgeSearchInput, ctx: ToolContext) -> KnowledgeSearchOutput:
        search: KnowledgeSearch | None = ctx.extras.get(EXTRA)
        if search is None:
            raise ToolError("No knowledge base is available here.")
        hits = await search(args.query, args.top_k)
        return KnowledgeSearchOutput(hits=[KnowledgeHit.model_validate(hit) for hit in hits])
