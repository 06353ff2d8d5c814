"""Fixtures and helpers for the workflow engine: fake services and a few test node types.

The node types here are registered once per process (pytest imports this module as
`tests.workflow.conftest`; the crash test's worker process imports it the same way).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tiangong.runtime.agent.events import AgentEvent, DoneEvent, ErrorEvent, TokenEvent
from tiangong.runtime.tools.context import CodeResult, HttpResult
from tiangong.runtime.workflow import (
    ApprovalRequest,
    Completion,
    Node,
    NodeConfig,
    NodeContext,
    NodeError,
    NodeResult,
    WorkflowEngine,
    WorkflowEvent,
    WorkflowServices,
    register_node,
)


@pytest.fixture(autouse=True)
async def clean_state() -> AsyncIterator[None]:
    """The engine touches no database or cache: skip the suite-wide table cleanup."""
    yield


# --- test node types ---------------------------------------------------------------------


class FlakyConfig(NodeConfig):
    failures: int = 0
    value: Any = None


@register_node("test_flaky")
class FlakyNode(Node[FlakyConfig]):
    """Fails on its first `failures` attempts, then returns `value`."""

    Config = FlakyConfig

    async def run(self, ctx: NodeContext, inputs: FlakyConfig) -> NodeResult:
        if ctx.attempt <= inputs.failures:
            raise RuntimeError(f"flaky failure on attempt {ctx.attempt}")
        return NodeResult({"value": inputs.value, "attempt": ctx.attempt})


class SleepConfig(NodeConfig):
    seconds: float = 0.0
    value: Any = None
    gauge: str | None = None


@dataclass
class Gauge:
    current: int = 0
    peak: int = 0
    seen: list[Any] = field(default_factory=list)


GAUGES: dict[str, Gauge] = {}


@register_node("test_sleep")
class SleepNode(Node[SleepConfig]):
    """Sleeps, then returns `value`; with `gauge`, tracks how many run at once."""

    Config = SleepConfig

    async def run(self, ctx: NodeContext, inputs: SleepConfig) -> NodeResult:
        gauge = GAUGES.setdefault(inputs.gauge, Gauge()) if inputs.gauge else Gauge()
        gauge.current += 1
        gauge.peak = max(gauge.peak, gauge.current)
        gauge.seen.append(inputs.value)
        try:
            await asyncio.sleep(inputs.seconds)
        finally:
            gauge.current -= 1
        return NodeResult({"value": inputs.value})


class CountConfig(NodeConfig):
    dir: str
    value: Any = None
    # While this file exists the node waits (a slow node the test releases).
    gate: str | None = None
    # While this file exists the node fails.
    fail_while: str | None = None


def _append(path: Path, line: str) -> None:
    with path.open("a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _exists(path: str) -> bool:
    return Path(path).exists()


def executions(directory: Path, node_id: str) -> int:
    path = directory / f"{node_id}.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


@register_node("test_count")
class CountNode(Node[CountConfig]):
    """Leaves one line per execution in `<dir>/<node id>.log`, so tests can count them."""

    Config = CountConfig

    async def run(self, ctx: NodeContext, inputs: CountConfig) -> NodeResult:
        _append(Path(inputs.dir) / f"{ctx.node_id}.log", str(os.getpid()))
        # Polls a file, not an asyncio.Event: the test that opens the gate is another process.
        while inputs.gate:
            if not _exists(inputs.gate):
                break
            await asyncio.sleep(0.02)
        if inputs.fail_while and _exists(inputs.fail_while):
            raise NodeError("told to fail", code="TOLD_TO_FAIL")
        return NodeResult({"value": inputs.value, "node": ctx.node_id})


# --- fake services -----------------------------------------------------------------------


@dataclass
class FakeServices:
    """Records what nodes asked for; answers predictably."""

    llm_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    http_calls: list[dict[str, Any]] = field(default_factory=list)
    code_calls: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[ApprovalRequest] = field(default_factory=list)
    http_status: int = 200
    agent_error: bool = False
    code_ok: bool = True

    async def llm_complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        self.llm_calls.append({"messages": list(messages), "model": model})
        return Completion(f"reply to: {messages[-1]['content']}", {"total_tokens": 7})

    async def run_agent(self, agent_id: str, message: str) -> AsyncIterator[AgentEvent]:
        yield TokenEvent("thinking about it")
        if self.agent_error:
            yield ErrorEvent("LLM_UNAVAILABLE", "the model is down", "", "", {})
            return
        yield DoneEvent(f"{agent_id} says: {message}", "", {"total_tokens": 3}, 1, "stop", [])

    async def run_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        self.tool_calls.append((name, dict(arguments)))
        return {"tool": name, "echo": dict(arguments)}

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        timeout_s: float | None = None,
        max_bytes: int | None = None,
    ) -> HttpResult:
        self.http_calls.append(
            {"method": method, "url": url, "headers": dict(headers or {}), "json": json}
        )
        body = b'{"ok": true, "items": [1, 2]}'
        return HttpResult(self.http_status, {"Content-Type": "application/json"}, body, url, 1.0)

    async def run(
        self,
        language: str,
        code: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        timeout_s: float = 10.0,
        memory_mb: int = 256,
    ) -> CodeResult:
        self.code_calls.append({"language": language, "code": code, "inputs": dict(inputs or {})})
        if not self.code_ok:
            return CodeResult(False, None, "", "Traceback: boom", "ZeroDivisionError", 1, 1.0)
        return CodeResult(
            True, {"sum": sum((inputs or {}).get("numbers", []))}, "hi\n", "", None, 0, 1.0
        )

    async def knowledge_search(
        self, knowledge_base_ids: Sequence[str], query: str, *, top_k: int
    ) -> list[dict[str, Any]]:
        return [
            {"content": f"{kb}: about {query}", "score": 1.0 / (i + 1)}
            for i, kb in enumerate(knowledge_base_ids)
        ][:top_k]

    async def run_sub_workflow(
        self, workflow_id: str, inputs: Mapping[str, Any], *, parent_node_id: str | None = None
    ) -> dict[str, Any]:
        return {"workflow": workflow_id, "doubled": inputs["x"] * 2}

    async def request_approval(self, request: ApprovalRequest) -> str:
        self.approvals.append(request)
        return f"approval-{request.run_id}-{request.node_id}"

    def services(self) -> WorkflowServices:
        return WorkflowServices(
            llm_complete=self.llm_complete,
            run_agent=self.run_agent,
            run_tool=self.run_tool,
            http_request=self,
            run_code=self,
            knowledge_search=self.knowledge_search,
            run_sub_workflow=self.run_sub_workflow,
            request_approval=self.request_approval,
        )


@pytest.fixture
def fakes() -> FakeServices:
    return FakeServices()


@pytest.fixture
def gauges() -> Iterator[dict[str, Gauge]]:
    GAUGES.clear()
    yield GAUGES
    GAUGES.clear()


# --- building and running graphs -----------------------------------------------------------


def node(node_id: str, node_type: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "config": config}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"source": source, "target": target, "source_handle": handle}


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodes": nodes, "edges": edges}


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    """The nodes in a row."""
    return graph(
        list(nodes), [edge(a["id"], b["id"]) for a, b in zip(nodes, nodes[1:], strict=False)]
    )


async def collect(events: AsyncIterator[WorkflowEvent]) -> list[Any]:
    """The events, typed loosely so assertions can read each event's own fields."""
    return [event async for event in events]


async def run_all(
    engine: WorkflowEngine, inputs: Mapping[str, Any] | None = None, run_id: str | None = None
) -> list[Any]:
    return await collect(engine.run(inputs or {}, run_id))


def of_type(events: list[Any], kind: str) -> list[Any]:
    return [event for event in events if event.type == kind]


def by_node(events: list[Any], kind: str) -> dict[str, Any]:
    return {event.node_id: event for event in of_type(events, kind)}
