"""knowledge_retrieval: search knowledge bases for a query."""

from __future__ import annotations

from pydantic import Field

from tiangong.runtime.workflow.nodes.base import Node, NodeConfig, NodeContext, NodeResult, require
from tiangong.runtime.workflow.nodes.registry import register_node


class KnowledgeRetrievalConfig(NodeConfig):
    knowledge_base_ids: list[str] = Field(min_length=1, max_length=50)
    query: str = Field(min_length=1, max_length=10_000)
    top_k: int = Field(default=5, ge=1, le=50)


@register_node("knowledge_retrieval")
class KnowledgeRetrievalNode(Node[KnowledgeRetrievalConfig]):
    Config = KnowledgeRetrievalConfig

    def output_fields(self, config: KnowledgeRetrievalConfig) -> frozenset[str]:
        return frozenset({"results", "context"})

    async def run(self, ctx: NodeContext, inputs: KnowledgeRetrievalConfig) -> NodeResult:
        search = require(ctx.services.knowledge_search, "knowledge_search")
        hits = await search(inputs.knowledge_base_ids, inputs.query, top_k=inputs.top_k)
        context = "\n\n".join(str(hit.get("content", "")) for hit in hits)
        return NodeResult({"results": hits, "context": context})
