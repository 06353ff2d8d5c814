"""condition (if / elif / else), join (merge branches) and variable_assign."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from tiangong.runtime.expr import ExpressionError, evaluate
from tiangong.runtime.workflow.errors import NodeError
from tiangong.runtime.workflow.graph import ERROR_HANDLE
from tiangong.runtime.workflow.nodes.base import (
    Identifier,
    Node,
    NodeConfig,
    NodeContext,
    NodeResult,
)
from tiangong.runtime.workflow.nodes.registry import register_node

ELSE = "else"


class Case(NodeConfig):
    # The source_handle of the edges this case takes.
    id: str = Field(pattern=r"^[\w-]+$", max_length=100)
    # In the safe expression language (`runtime.expr`) over `variables`, written as is.
    expression: str = Field(min_length=1, max_length=4_000)


class ConditionConfig(NodeConfig):
    cases: list[Case] = Field(min_length=1, max_length=50)
    # Name -> value, usually a reference: {"score": "{{llm1.usage.total_tokens}}"}.
    variables: dict[Identifier, Any] = Field(default_factory=dict)

    @field_validator("cases")
    @classmethod
    def _case_ids(cls, cases: list[Case]) -> list[Case]:
        ids = [case.id for case in cases]
        if len(set(ids)) != len(ids):
            raise ValueError("case ids must be unique")
        if ELSE in ids or ERROR_HANDLE in ids:
            raise ValueError(f"'{ELSE}' and '{ERROR_HANDLE}' are reserved case ids")
        return cases


def _structure_problem(expression: str) -> str | None:
    """The expression's syntax or disallowed-construct error, found without evaluating it.

    `evaluate` checks the whole tree before evaluating anything, and the else-part of
    `0 if 1 else (...)` is never evaluated, so only structural errors can come out.
    """
    try:
        evaluate(f"0 if 1 else (\n{expression}\n)")
    except ExpressionError as exc:
        return str(exc)
    return None


@register_node("condition")
class ConditionNode(Node[ConditionConfig]):
    Config = ConditionConfig
    raw_fields = frozenset({"cases"})

    def handles(self, config: ConditionConfig) -> frozenset[str]:
        return frozenset(case.id for case in config.cases) | {ELSE}

    def output_fields(self, config: ConditionConfig) -> frozenset[str]:
        return frozenset({"branch"})

    def check(self, config: ConditionConfig) -> list[tuple[str, str]]:
        problems = []
        for i, case in enumerate(config.cases):
            problem = _structure_problem(case.expression)
            if problem:
                problems.append((f"cases[{i}].expression", problem))
        return problems

    async def run(self, ctx: NodeContext, inputs: ConditionConfig) -> NodeResult:
        for case in inputs.cases:
            try:
                chosen = bool(evaluate(case.expression, inputs.variables))
            except ExpressionError as exc:
                raise NodeError(
                    f"case '{case.id}': {exc}", code="EXPRESSION_ERROR", retryable=False
                ) from exc
            if chosen:
                return NodeResult({"branch": case.id}, branch=case.id)
        return NodeResult({"branch": ELSE}, branch=ELSE)


class JoinConfig(NodeConfig):
    """No settings."""


@register_node("join")
class JoinNode(Node[JoinConfig]):
    """Waits for every branch that ran (as every node does) and collects their outputs by
    node id: `{{join1.branch_a.text}}`."""

    Config = JoinConfig

    async def run(self, ctx: NodeContext, inputs: JoinConfig) -> NodeResult:
        return NodeResult({node_id: dict(outputs) for node_id, outputs in ctx.upstream.items()})


class VariableAssignConfig(NodeConfig):
    # Name -> value (references allowed); each becomes an output: {{assign1.name}}.
    assignments: dict[Identifier, Any] = Field(default_factory=dict)


@register_node("variable_assign")
class VariableAssignNode(Node[VariableAssignConfig]):
    Config = VariableAssignConfig

    def output_fields(self, config: VariableAssignConfig) -> frozenset[str]:
        return frozenset(config.assignments)

    async def run(self, ctx: NodeContext, inputs: VariableAssignConfig) -> NodeResult:
        return NodeResult(dict(inputs.assignments))
