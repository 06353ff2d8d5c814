"""run_node: one node run by itself against given upstream outputs."""

from __future__ import annotations

import pytest

from tests.workflow.conftest import FakeServices
from tiangong.runtime.workflow import NodeInvalid, node_problems, run_node


async def test_references_resolve_against_the_given_inputs(fakes: FakeServices) -> None:
    result = await run_node(
        "llm1",
        "llm",
        {"prompt": "Summarise {{start.topic}} using {{fetch.json.items}}"},
        fakes.services(),
        inputs={"start": {"topic": "cats"}, "fetch": {"json": {"items": [1, 2]}}},
    )
    assert result.status == "succeeded", result
    assert result.outputs["text"] == "reply to: Summarise cats using [1, 2]"
    assert result.error is None and result.duration_ms >= 0
    assert len(fakes.llm_calls) == 1


async def test_condition_reports_its_branch(fakes: FakeServices) -> None:
    config = {
        "variables": {"n": "{{calc.value}}"},
        "cases": [{"id": "big", "expression": "n > 10"}],
    }
    big = await run_node("c", "condition", config, fakes.services(), inputs={"calc": {"value": 11}})
    small = await run_node(
        "c", "condition", config, fakes.services(), inputs={"calc": {"value": 1}}
    )
    assert (big.branch, small.branch) == ("big", "else")


async def test_loop_runs_its_inner_node_per_item(fakes: FakeServices) -> None:
    config = {
        "items": "{{start.words}}",
        "node": {
            "type": "template",
            "config": {"template": "<{{ w }}>", "variables": {"w": "{{each.item}}"}},
        },
    }
    result = await run_node(
        "each", "loop", config, fakes.services(), inputs={"start": {"words": ["a", "b"]}}
    )
    assert result.status == "succeeded", result
    assert [r["text"] for r in result.outputs["results"]] == ["<a>", "<b>"]


async def test_join_collects_the_given_upstream(fakes: FakeServices) -> None:
    result = await run_node(
        "j", "join", {}, fakes.services(), inputs={"a": {"x": 1}, "b": {"y": 2}, "start": {}}
    )
    assert result.outputs == {"a": {"x": 1}, "b": {"y": 2}}


async def test_approval_waits(fakes: FakeServices) -> None:
    result = await run_node(
        "ask", "approval", {"title": "Go?"}, fakes.services(), inputs={}, run_id="r1"
    )
    assert result.status == "waiting" and result.approval_id == "approval-r1-ask"


async def test_a_failing_node_is_a_failed_result_not_an_exception(fakes: FakeServices) -> None:
    fakes.code_ok = False
    result = await run_node(
        "c", "code", {"code": "def main():\n  1/0"}, fakes.services(), inputs={}
    )
    assert result.status == "failed"
    assert result.error is not None and result.error["code"] == "CODE_FAILED"


async def test_timeout_fails_the_node(fakes: FakeServices) -> None:
    result = await run_node(
        "d", "delay", {"seconds": 5}, fakes.services(), inputs={}, timeout_s=0.05
    )
    assert result.status == "failed"
    assert result.error is not None and result.error["code"] == "NODE_TIMEOUT"


@pytest.mark.parametrize(
    ("node_type", "config", "inputs", "code"),
    [
        ("no_such", {}, {}, "UNKNOWN_NODE_TYPE"),
        ("llm", {"prompt": ""}, {}, "CONFIG_ERROR"),
        ("llm", {"prompt": "hi", "bogus": 1}, {}, "CONFIG_ERROR"),
        ("llm", {"prompt": "{{ghost.text}}"}, {}, "MISSING_INPUT"),
        ("delay", {"seconds": "{{start.s}}"}, {"start": {"s": "soon"}}, "CONFIG_ERROR"),
        ("loop", {"items": [1], "node": {"type": "end", "config": {}}}, {}, "INVALID_INNER_NODE"),
        ("loop", {"items": [1], "node": {"type": "llm", "config": {}}}, {}, "CONFIG_ERROR"),
    ],
)
async def test_invalid_nodes_are_refused_before_running(
    fakes: FakeServices, node_type: str, config: dict, inputs: dict, code: str
) -> None:
    with pytest.raises(NodeInvalid) as caught:
        await run_node("n", node_type, config, fakes.services(), inputs=inputs)
    assert caught.value.status == 422
    assert code in {p.code for p in caught.value.problems}
    assert fakes.llm_calls == []


def test_node_problems_accepts_references_and_rejects_typos() -> None:
    assert node_problems("delay", {"seconds": "{{start.s}}"}) == []
    [problem] = node_problems("delay", {"seconds": 1, "secnds": 2})
    assert problem.field == "config.secnds"
