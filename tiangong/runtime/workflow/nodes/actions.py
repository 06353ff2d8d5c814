"""tool, http_request and code: nodes that act through the platform's services."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from tiangong.runtime.workflow.errors import NodeError
from tiangong.runtime.workflow.nodes.base import Node, NodeConfig, NodeContext, NodeResult, require
from tiangong.runtime.workflow.nodes.registry import register_node


class ToolConfig(NodeConfig):
    tool: str = Field(min_length=1, max_length=200)
    arguments: dict[str, Any] = Field(default_factory=dict)


@register_node("tool")
class ToolNode(Node[ToolConfig]):
    Config = ToolConfig

    def output_fields(self, config: ToolConfig) -> frozenset[str]:
        return frozenset({"result"})

    async def run(self, ctx: NodeContext, inputs: ToolConfig) -> NodeResult:
        run_tool = require(ctx.services.run_tool, "run_tool")
        return NodeResult({"result": await run_tool(inputs.tool, inputs.arguments)})


class HttpRequestConfig(NodeConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str = Field(min_length=1, max_length=8_000)
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    # A string is sent as is; anything else as JSON.
    body: Any = None
    request_timeout_s: float = Field(default=30, gt=0, le=300)
    max_bytes: int = Field(default=5 * 1024 * 1024, ge=1, le=50 * 1024 * 1024)
    # Fail the node on a 4xx/5xx answer (5xx is retried by the retry policy, 4xx is not).
    raise_for_status: bool = True


@register_node("http_request")
class HttpRequestNode(Node[HttpRequestConfig]):
    Config = HttpRequestConfig

    def output_fields(self, config: HttpRequestConfig) -> frozenset[str]:
        return frozenset({"status", "headers", "body", "json"})

    async def run(self, ctx: NodeContext, inputs: HttpRequestConfig) -> NodeResult:
        http = require(ctx.services.http_request, "http_request")
        text_body = inputs.body if isinstance(inputs.body, str) else None
        json_body = inputs.body if text_body is None else None
        result = await http.request(
            inputs.method,
            inputs.url,
            headers=inputs.headers,
            params=inputs.params or None,
            json=json_body,
            content=text_body,
            timeout_s=inputs.request_timeout_s,
            max_bytes=inputs.max_bytes,
        )
        if inputs.raise_for_status and result.status >= 400:
            raise NodeError(
                f"{inputs.method} {result.url} answered {result.status}",
                code="HTTP_STATUS",
                retryable=result.status >= 500 or result.status == 429,
            )
        return NodeResult(
            {
                "status": result.status,
                "headers": dict(result.headers),
                "body": result.text,
                "json": _json(result.text, result.headers),
            }
        )


def _json(text: str, headers: Mapping[str, str]) -> Any:
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if "json" not in content_type:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


class CodeConfig(NodeConfig):
    language: Literal["python", "javascript"] = "python"
    # Run as written: data reaches the code only through `inputs` (main(**inputs)).
    code: str = Field(min_length=1, max_length=100_000)
    inputs: dict[str, Any] = Field(default_factory=dict)
    sandbox_timeout_s: float = Field(default=10, gt=0, le=300)
    memory_mb: int = Field(default=256, ge=16, le=2048)


@register_node("code")
class CodeNode(Node[CodeConfig]):
    Config = CodeConfig
    raw_fields = frozenset({"code"})

    def output_fields(self, config: CodeConfig) -> frozenset[str]:
        return frozenset({"result", "stdout", "stderr"})

    async def run(self, ctx: NodeContext, inputs: CodeConfig) -> NodeResult:
        runner = require(ctx.services.run_code, "run_code")
        outcome = await runner.run(
            inputs.language,
            inputs.code,
            inputs=inputs.inputs,
            timeout_s=inputs.sandbox_timeout_s,
            memory_mb=inputs.memory_mb,
        )
        if not outcome.ok:
            detail = outcome.error or outcome.stderr[-500:] or "no output"
            raise NodeError(f"the code failed: {detail}", code="CODE_FAILED", retryable=False)
        return NodeResult(
            {"result": outcome.result, "stdout": outcome.stdout, "stderr": outcome.stderr}
        )
