"""start (the run's typed inputs) and end (the run's outputs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from tiangong.runtime.workflow.errors import NodeError
from tiangong.runtime.workflow.nodes.base import (
    Identifier,
    Node,
    NodeConfig,
    NodeContext,
    NodeResult,
)
from tiangong.runtime.workflow.nodes.registry import register_node

InputType = Literal["string", "number", "integer", "boolean", "object", "array", "any"]


class InputField(NodeConfig):
    name: Identifier
    type: InputType = "string"
    required: bool = True
    default: Any = None
    description: str = Field(default="", max_length=1_000)


class StartConfig(NodeConfig):
    inputs: list[InputField] = Field(default_factory=list, max_length=100)

    @field_validator("inputs")
    @classmethod
    def _unique(cls, inputs: list[InputField]) -> list[InputField]:
        names = [field.name for field in inputs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate input names: {', '.join(duplicates)}")
        return inputs


def _type_ok(kind: InputType, value: Any) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    return isinstance(value, dict if kind == "object" else list)


@register_node("start")
class StartNode(Node[StartConfig]):
    Config = StartConfig

    def output_fields(self, config: StartConfig) -> frozenset[str]:
        return frozenset(field.name for field in config.inputs)

    async def run(self, ctx: NodeContext, inputs: StartConfig) -> NodeResult:
        declared = {field.name for field in inputs.inputs}
        unknown = sorted(set(ctx.run_inputs) - declared)
        problems = [f"unknown input '{name}'" for name in unknown]
        values: dict[str, Any] = {}
        for field in inputs.inputs:
            if field.name not in ctx.run_inputs:
                if field.required:
                    problems.append(f"input '{field.name}' is required")
                else:
                    values[field.name] = field.default
                continue
            value = ctx.run_inputs[field.name]
            if not _type_ok(field.type, value):
                problems.append(f"input '{field.name}' must be of type {field.type}")
            values[field.name] = value
        if problems:
            raise NodeError("; ".join(problems), code="INVALID_INPUTS", retryable=False)
        return NodeResult(values)


class EndConfig(NodeConfig):
    # Output name -> value, usually a reference: {"answer": "{{llm1.text}}"}.
    outputs: dict[str, Any] = Field(default_factory=dict)


@register_node("end")
class EndNode(Node[EndConfig]):
    Config = EndConfig

    def output_fields(self, config: EndConfig) -> frozenset[str]:
        return frozenset(config.outputs)

    async def run(self, ctx: NodeContext, inputs: EndConfig) -> NodeResult:
        return NodeResult(dict(inputs.outputs))
