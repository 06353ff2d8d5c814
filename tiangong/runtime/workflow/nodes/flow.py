"""loop (one inner node per list item), sub_workflow and delay."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from tiangong.runtime.workflow.graph import InnerNodeSpec
from tiangong.runtime.workflow.nodes.base import Node, NodeConfig, NodeContext, NodeResult, require
from tiangong.runtime.workflow.nodes.registry import register_node


class LoopConfig(NodeConfig):
    # The list to iterate, usually a reference: "{{start.urls}}".
    items: list[Any] = Field(max_length=10_000)
    # How many items run at once.
    concurrency: int = Field(default=1, ge=1, le=64)
    # Run once per item; it references the item as {{<loop id>.item}} and its position as
    # {{<loop id>.index}}. A body of several steps is a `sub_workflow` node here.
    node: InnerNodeSpec


@register_node("loop")
class LoopNode(Node[LoopConfig]):
    """Outputs `results`, the inner node's outputs per item in item order, and `count`.
    The first item that fails (after its retries) fails the loop and cancels the rest.
    Items are not checkpointed one by one: the loop is one node, so a run resumed after a
    crash runs an unfinished loop again from its first item."""

    Config = LoopConfig
    raw_fields = frozenset({"node"})
    inner_scope = frozenset({"item", "index"})

    def output_fields(self, config: LoopConfig) -> frozenset[str]:
        return frozenset({"results", "count"})

    def inner_nodes(self, config: LoopConfig) -> Mapping[str, InnerNodeSpec]:
        return {"node": config.node}

    async def run(self, ctx: NodeContext, inputs: LoopConfig) -> NodeResult:
        results: list[dict[str, Any] | None] = [None] * len(inputs.items)
        positions = iter(range(len(inputs.items)))

        async def worker() -> None:
            for index in positions:
                scope = {ctx.node_id: {"item": inputs.items[index], "index": index}}
                results[index] = await ctx.run_inner("node", scope)

        workers = min(inputs.concurrency, len(inputs.items))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
        except* Exception as failures:
            raise failures.exceptions[0] from None
        return NodeResult({"results": results, "count": len(results)})


class SubWorkflowConfig(NodeConfig):
    workflow_id: str = Field(min_length=1, max_length=100)
    inputs: dict[str, Any] = Field(default_factory=dict)


@register_node("sub_workflow")
class SubWorkflowNode(Node[SubWorkflowConfig]):
    """Its outputs are the outputs of the workflow it ran."""

    Config = SubWorkflowConfig

    async def run(self, ctx: NodeContext, inputs: SubWorkflowConfig) -> NodeResult:
        run = require(ctx.services.run_sub_workflow, "run_sub_workflow")
        outputs = await run(inputs.workflow_id, inputs.inputs, parent_node_id=ctx.node_id)
        return NodeResult(dict(outputs))


class DelayConfig(NodeConfig):
    seconds: float = Field(ge=0, le=86_400)


@register_node("delay")
class DelayNode(Node[DelayConfig]):
    Config = DelayConfig

    def output_fields(self, config: DelayConfig) -> frozenset[str]:
        return frozenset()

    async def run(self, ctx: NodeContext, inputs: DelayConfig) -> NodeResult:
        await asyncio.sleep(inputs.seconds)
        return NodeResult()
