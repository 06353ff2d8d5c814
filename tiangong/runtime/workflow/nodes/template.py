"""template: Jinja2 in a sandbox, over named variables."""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field

from tiangong.runtime.workflow.errors import NodeError
from tiangong.runtime.workflow.nodes.base import (
    Identifier,
    Node,
    NodeConfig,
    NodeContext,
    NodeResult,
)
from tiangong.runtime.workflow.nodes.registry import register_node

MAX_OUTPUT_CHARS = 1_000_000


class _Environment(SandboxedEnvironment):
    """The sandbox blocks unsafe attributes and calls; this also bounds `*` and `**`, which
    could otherwise build a huge string or number from a short template."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            sequence, count = (left, right) if isinstance(left, str | list) else (right, left)
            if isinstance(sequence, str | list) and isinstance(count, int):
                if len(sequence) * count > MAX_OUTPUT_CHARS:
                    raise SecurityError("the result of '*' would be too long")
        elif isinstance(left, int) and isinstance(right, int) and right > 0:
            if abs(left).bit_length() * right > 4_096:
                raise SecurityError("the result of '**' would be too large")
        return super().call_binop(context, operator, left, right)


_ENV = _Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


@functools.lru_cache(maxsize=512)
def _compile(source: str) -> Template:
    return _ENV.from_string(source)


class TemplateConfig(NodeConfig):
    """The sandbox stops attribute escapes and huge results; it does not bound CPU time, so
    templates are for the workflow's author, never for end-user input."""

    # Jinja2 source, used as written; it sees only `variables`: "Hello {{ name }}".
    template: str = Field(min_length=1, max_length=100_000)
    # Name -> value, usually a reference: {"name": "{{start.name}}"}.
    variables: dict[Identifier, Any] = Field(default_factory=dict)


@register_node("template")
class TemplateNode(Node[TemplateConfig]):
    Config = TemplateConfig
    raw_fields = frozenset({"template"})

    def output_fields(self, config: TemplateConfig) -> frozenset[str]:
        return frozenset({"text"})

    def check(self, config: TemplateConfig) -> list[tuple[str, str]]:
        try:
            _compile(config.template)
        except TemplateSyntaxError as exc:
            return [("template", f"line {exc.lineno}: {exc.message}")]
        return []

    async def run(self, ctx: NodeContext, inputs: TemplateConfig) -> NodeResult:
        try:
            template = _compile(inputs.template)
            parts: list[str] = []
            size = 0
            for chunk in template.generate(inputs.variables):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise SecurityError(f"the output is longer than {MAX_OUTPUT_CHARS} characters")
                parts.append(chunk)
        except SecurityError as exc:
            raise NodeError(str(exc), code="TEMPLATE_FORBIDDEN", retryable=False) from exc
        except Exception as exc:
            # Rendering is deterministic: whatever failed would fail again on a retry.
            raise NodeError(str(exc), code="TEMPLATE_ERROR", retryable=False) from exc
        return NodeResult({"text": "".join(parts)})
