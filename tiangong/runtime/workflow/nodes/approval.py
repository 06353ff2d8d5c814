"""approval: a human decides; the run waits on this branch until `resume` brings the answer."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tiangong.runtime.workflow.nodes.base import Node, NodeConfig, NodeContext, NodeResult, require
from tiangong.runtime.workflow.nodes.registry import register_node
from tiangong.runtime.workflow.services import ApprovalDecision, ApprovalRequest

APPROVED = "approved"
REJECTED = "rejected"


class ApprovalConfig(NodeConfig):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    # What the approver should see, usually references: {"draft": "{{llm1.text}}"}.
    data: dict[str, Any] = Field(default_factory=dict)


@register_node("approval")
class ApprovalNode(Node[ApprovalConfig]):
    """Edges leave by "approved" or "rejected"; a decision with no edge of its kind skips
    everything downstream."""

    Config = ApprovalConfig

    def handles(self, config: ApprovalConfig) -> frozenset[str]:
        return frozenset({APPROVED, REJECTED})

    def output_fields(self, config: ApprovalConfig) -> frozenset[str]:
        return frozenset({"approval_id", "approved", "comment", "decided_by"})

    async def run(self, ctx: NodeContext, inputs: ApprovalConfig) -> NodeResult:
        request_approval = require(ctx.services.request_approval, "request_approval")
        request = ApprovalRequest(
            run_id=ctx.run_id,
            node_id=ctx.node_id,
            title=inputs.title,
            description=inputs.description,
            data=inputs.data,
        )
        approval_id = await request_approval(request)
        return NodeResult({"approval_id": approval_id}, wait_for=approval_id)

    async def decide(
        self,
        ctx: NodeContext,
        inputs: ApprovalConfig,
        approval_id: str,
        decision: ApprovalDecision,
    ) -> NodeResult:
        outputs = {
            "approval_id": approval_id,
            "approved": decision.approved,
            "comment": decision.comment,
            "decided_by": decision.decided_by,
        }
        return NodeResult(outputs, branch=APPROVED if decision.approved else REJECTED)
