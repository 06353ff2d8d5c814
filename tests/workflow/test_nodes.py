"""Each node type against fake services, and the node registry."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow.conftest import FakeServices, by_node, chain, node, run_all
from tiangong.runtime.workflow import (
    Node,
    NodeConfig,
    NodeContext,
    NodeResult,
    WorkflowEngine,
    WorkflowServices,
    node_class,
    node_types,
    register_node,
)


async def run_one(
    step: dict[str, Any],
    fakes: FakeServices | None = None,
    inputs: dict[str, Any] | None = None,
    start: dict[str, Any] | None = None,
    retry: int = 1,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Run start -> step -> end; return (the step's outputs, its error)."""
    step = {**step, "retry": {"max_attempts": retry}}
    start = start or node("start", "start", inputs=[{"name": k, "type": "any"}
                                                    for k in (inputs or {})])  # fmt: skip
    services = fakes.services() if fakes else WorkflowServices()
    engine = WorkflowEngine(chain(start, step, node("end", "end")), services)
    events = await run_all(engine, inputs or {})
    succeeded = by_node(events, "node_succeeded").get(step["id"])
    failed = by_node(events, "node_failed").get(step["id"])
    return (succeeded.outputs if succeeded else None), (failed.to_dict() if failed else None)


def test_every_builtin_node_type_is_registered() -> None:
    assert {
        "start", "end", "llm", "agent", "tool", "http_request", "code", "condition", "template",
        "variable_assign", "knowledge_retrieval", "loop", "join", "approval", "sub_workflow",
        "delay",
    } <= set(node_types())  # fmt: skip


class EchoConfig(NodeConfig):
    text: str = ""


@register_node("test_echo", version=1)
class EchoV1(Node[EchoConfig]):
    Config = EchoConfig


@register_node("test_echo", version=2)
class EchoV2(Node[EchoConfig]):
    Config = EchoConfig

    async def run(self, ctx: NodeContext, inputs: EchoConfig) -> NodeResult:
        return NodeResult({"text": inputs.text.upper()})


async def test_types_are_versioned_and_the_newest_is_the_default() -> None:
    assert node_class("test_echo") is EchoV2 and node_class("test_echo", 1) is EchoV1
    assert EchoV2.type_name == "test_echo" and EchoV2.version == 2
    with pytest.raises(ValueError, match="registered twice"):
        register_node("test_echo", version=2)(EchoV2)
    pinned = {**node("echo", "test_echo", text="hi"), "version": 1}
    newest = node("echo", "test_echo", text="hi")
    for spec, expected in [(newest, {"text": "HI"}), (pinned, None)]:
        outputs, error = await run_one(spec)
        assert outputs == expected
        if expected is None:  # version 1 never implemented run
            assert error is not None and "NotImplementedError" in error["error"]["message"]


async def test_start_checks_types_requires_inputs_applies_defaults_and_refuses_extras() -> None:
    start = node("start", "start", inputs=[
        {"name": "q", "type": "string"},
        {"name": "n", "type": "integer", "required": False, "default": 3},
    ])  # fmt: skip
    step = node("echo", "variable_assign", assignments={"q": "{{start.q}}", "n": "{{start.n}}"})
    engine = WorkflowEngine(chain(start, step, node("end", "end")))
    events = await run_all(engine, {"q": "hi"})
    assert by_node(events, "node_succeeded")["echo"].outputs == {"q": "hi", "n": 3}
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "input 'q' is required"),
        ({"q": 1}, "input 'q' must be of type string"),
        ({"q": "x", "n": True}, "input 'n' must be of type integer"),
        ({"q": "x", "extra": 1}, "unknown input 'extra'"),
    ]
    for bad, message in cases:
        events = await run_all(engine, bad)
        failed = by_node(events, "node_failed")["start"]
        assert failed.error["code"] == "INVALID_INPUTS" and message in failed.error["message"]
        assert events[-1].type == "run_failed"


async def test_llm_sends_the_resolved_prompt_and_returns_text_and_usage(
    fakes: FakeServices,
) -> None:
    step = node("llm1", "llm", prompt="Q: {{start.q}}", system="be brief", model="m1")
    outputs, error = await run_one(step, fakes, {"q": "why?"})
    assert error is None and outputs == {"text": "reply to: Q: why?", "usage": {"total_tokens": 7}}
    assert fakes.llm_calls == [{
        "messages": [{"role": "system", "content": "be brief"},
                     {"role": "user", "content": "Q: why?"}],
        "model": "m1",
    }]  # fmt: skip


async def test_a_node_whose_service_is_missing_fails_clearly() -> None:
    outputs, error = await run_one(node("llm1", "llm", prompt="hi"), retry=3)
    assert outputs is None and error is not None
    assert error["error"]["code"] == "SERVICE_UNAVAILABLE" and error["attempts"] == 1


async def test_agent_returns_the_done_event_and_fails_on_an_error_event(
    fakes: FakeServices,
) -> None:
    step = node("ag", "agent", agent_id="helper", message="{{start.m}}")
    outputs, _ = await run_one(step, fakes, {"m": "hello"})
    assert outputs is not None and outputs["text"] == "helper says: hello"
    assert outputs["token_usage"] == {"total_tokens": 3}
    fakes.agent_error = True
    _, error = await run_one(step, fakes, {"m": "hello"})
    assert error is not None and error["error"]["code"] == "LLM_UNAVAILABLE"


async def test_tool_passes_resolved_arguments(fakes: FakeServices) -> None:
    step = node("t", "tool", tool="calculator", arguments={"expression": "{{start.e}}"})
    outputs, _ = await run_one(step, fakes, {"e": "1+1"})
    assert outputs == {"result": {"tool": "calculator", "echo": {"expression": "1+1"}}}


async def test_http_request_goes_through_the_injected_client(fakes: FakeServices) -> None:
    step = node("h", "http_request", method="POST", url="https://api.example.com/{{start.p}}",
                headers={"X-Key": "{{start.k}}"}, body={"n": "{{start.n}}"})  # fmt: skip
    outputs, _ = await run_one(step, fakes, {"p": "items", "k": "secret", "n": 2})
    assert fakes.http_calls == [{"method": "POST", "url": "https://api.example.com/items",
                                 "headers": {"X-Key": "secret"}, "json": {"n": 2}}]  # fmt: skip
    assert outputs is not None and outputs["status"] == 200
    assert outputs["json"] == {"ok": True, "items": [1, 2]}


async def test_http_client_errors_fail_without_retry_and_server_errors_are_retried(
    fakes: FakeServices,
) -> None:
    step = node("h", "http_request", url="https://api.example.com/")
    fakes.http_status = 404
    _, error = await run_one(step, fakes, retry=3)
    assert error is not None and error["error"]["code"] == "HTTP_STATUS" and error["attempts"] == 1
    fakes.http_status = 503
    _, error = await run_one(step, fakes, retry=3)
    assert error is not None and error["attempts"] == 3


async def test_code_runs_as_written_with_data_only_as_inputs(fakes: FakeServices) -> None:
    source = "def main(numbers):\n    return {'sum': sum(numbers)}  # {{start.xs}}\n"
    step = node("c", "code", code=source, inputs={"numbers": "{{start.xs}}"})
    outputs, _ = await run_one(step, fakes, {"xs": [1, 2, 3]})
    assert outputs == {"result": {"sum": 6}, "stdout": "hi\n", "stderr": ""}
    assert fakes.code_calls[0]["code"] == source  # never interpolated
    assert fakes.code_calls[0]["inputs"] == {"numbers": [1, 2, 3]}
    fakes.code_ok = False
    _, error = await run_one(step, fakes, {"xs": [1]}, retry=3)
    assert error is not None and error["error"]["code"] == "CODE_FAILED" and error["attempts"] == 1


async def test_a_condition_that_fails_at_run_time_fails_the_node() -> None:
    step = node("check", "condition", cases=[{"id": "x", "expression": "s > 1"}],
                variables={"s": "{{start.s}}"})  # fmt: skip
    start = node("start", "start", inputs=[{"name": "s"}])
    definition = chain(start, step, node("end", "end"))
    definition["edges"][1]["source_handle"] = "x"
    events = await run_all(WorkflowEngine(definition), {"s": "text"})
    error = by_node(events, "node_failed")["check"].error
    assert error["code"] == "EXPRESSION_ERROR" and "cannot compare" in error["message"]


async def test_template_renders_named_variables() -> None:
    step = node("t", "template",
                template="{% for x in xs %}{{ x|upper }}{% if not loop.last %}, {% endif %}"
                         "{% endfor %} for {{ who }}",
                variables={"xs": "{{start.xs}}", "who": "{{start.who}}"})  # fmt: skip
    outputs, _ = await run_one(step, inputs={"xs": ["a", "b"], "who": "me"})
    assert outputs == {"text": "A, B for me"}


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ 'a' * 100000000 }}",
        "{{ 9 ** 999999 }}",
        "{{ undefined_name }}",
    ],
)
async def test_template_rendering_is_sandboxed(template: str) -> None:
    step = node("t", "template", template=template, variables={"x": "{{start.x}}"})
    outputs, error = await run_one(step, inputs={"x": "v"})
    assert outputs is None and error is not None
    assert error["error"]["code"] in ("TEMPLATE_FORBIDDEN", "TEMPLATE_ERROR")
    assert "class 'str'" not in error["error"]["message"]


async def test_template_values_are_data_not_template_source() -> None:
    step = node("t", "template", template="Hello {{ name }}", variables={"name": "{{start.n}}"})
    outputs, _ = await run_one(step, inputs={"n": "{{ 7 * 7 }}"})
    assert outputs == {"text": "Hello {{ 7 * 7 }}"}


async def test_knowledge_retrieval_returns_hits_and_joined_context(fakes: FakeServices) -> None:
    step = node("kb", "knowledge_retrieval", knowledge_base_ids=["kb1", "kb2"],
                query="{{start.q}}", top_k=5)  # fmt: skip
    outputs, _ = await run_one(step, fakes, {"q": "tea"})
    assert outputs is not None and len(outputs["results"]) == 2
    assert outputs["context"] == "kb1: about tea\n\nkb2: about tea"


async def test_sub_workflow_outputs_are_its_own(fakes: FakeServices) -> None:
    step = node("sub", "sub_workflow", workflow_id="wf-1", inputs={"x": "{{start.x}}"})
    outputs, _ = await run_one(step, fakes, {"x": 4})
    assert outputs == {"workflow": "wf-1", "doubled": 8}


async def test_loop_items_that_resolve_to_a_non_list_fail_the_node() -> None:
    step = node("each", "loop", items="{{start.xs}}",
                node={"type": "delay", "config": {"seconds": 0}})  # fmt: skip
    _, error = await run_one(step, inputs={"xs": "not a list"})
    assert error is not None and error["error"]["code"] == "CONFIG_ERROR"
    assert "items" in error["error"]["message"]


async def test_loop_over_an_empty_list_returns_no_results() -> None:
    step = node("each", "loop", items=[], node={"type": "delay", "config": {"seconds": 0}})
    outputs, _ = await run_one(step)
    assert outputs == {"results": [], "count": 0}


async def test_nested_loops_see_both_items() -> None:
    inner = {
        "type": "variable_assign",
        "config": {"assignments": {"pair": "{{outer.item}}{{outer-node.item}}"}},
    }
    middle = {"type": "loop", "config": {"items": "{{outer.item}}", "node": inner}}
    step = node("outer", "loop", items=[["a", "b"], ["c"]], node=middle)  # fmt: skip
    outputs, error = await run_one(step)
    assert error is None and outputs is not None
    pairs = [[r["pair"] for r in item["results"]] for item in outputs["results"]]
    assert pairs == [['["a", "b"]a', '["a", "b"]b'], ['["c"]c']]


async def test_variable_assign_and_delay() -> None:
    outputs, _ = await run_one(node("v", "variable_assign", assignments={"a": [1], "b": None}))
    assert outputs == {"a": [1], "b": None}
    outputs, _ = await run_one(node("d", "delay", seconds=0.01))
    assert outputs == {}
