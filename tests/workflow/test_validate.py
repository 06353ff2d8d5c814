"""validate() reports every problem of a definition, each with its node id."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflow.conftest import chain, edge, graph, node
from tiangong.runtime.workflow import WorkflowEngine, WorkflowInvalid, validate


def problems(definition: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(p.code, p.node_id) for p in validate(definition)}


def good() -> dict[str, Any]:
    return chain(
        node("start", "start", inputs=[{"name": "q", "type": "string"}]),
        node("llm1", "llm", prompt="Answer: {{start.q}}"),
        node("end", "end", outputs={"answer": "{{llm1.text}}"}),
    )


def test_a_valid_definition_has_no_problems() -> None:
    assert validate(good()) == []


def test_every_listed_problem_is_reported_at_once_with_its_node_id() -> None:
    definition = graph(
        [
            node("start", "start"),
            node("start2", "start"),
            node("a", "llm", prompt="{{ghost.text}} {{b.text}} {{start.nope}}"),
            node("b", "llm", prompt="hi", tempreature=1),
            node("c", "variable_assign"),
            node("d", "variable_assign"),
            node("island", "variable_assign"),
            node("w", "warp_drive"),
        ],
        [
            edge("start", "a"),
            edge("a", "b"),
            edge("b", "nowhere"),
            edge("start", "c"),
            edge("c", "d"),
            edge("d", "c"),
            edge("start", "w"),
        ],
    )
    found = problems(definition)
    assert {
        ("MULTIPLE_START", "start2"),
        ("MISSING_END", None),
        ("DANGLING_EDGE", "b"),
        ("CYCLE", "c"),
        ("UNREACHABLE", "island"),
        ("UNKNOWN_NODE_TYPE", "w"),
        ("CONFIG_ERROR", "b"),
        ("UNKNOWN_VARIABLE", "a"),
    } <= found
    by_message = [p for p in validate(definition) if p.code == "UNKNOWN_VARIABLE"]
    messages = " | ".join(p.message for p in by_message)
    assert "'ghost', which does not exist" in messages
    assert "node 'b' does not run before 'a'" in messages
    assert "has no output 'nope'" in messages
    assert all(p.field == "config.prompt" for p in by_message)
    typo = next(p for p in validate(definition) if p.code == "CONFIG_ERROR")
    assert typo.field == "config.tempreature"


def test_missing_start_is_reported() -> None:
    assert ("MISSING_START", None) in problems(chain(node("a", "llm", prompt="x"),
                                                      node("end", "end")))  # fmt: skip


def test_cycles_name_their_nodes() -> None:
    definition = chain(node("start", "start"), node("a", "delay", seconds=0),
                       node("b", "delay", seconds=0), node("end", "end"))  # fmt: skip
    definition["edges"].append(edge("b", "a"))
    cycle = [p for p in validate(definition) if p.code == "CYCLE"]
    assert len(cycle) == 1 and cycle[0].node_id == "a" and "a -> b -> a" in cycle[0].message
    definition["edges"][-1] = edge("a", "a")
    assert ("CYCLE", "a") in problems(definition)


def test_shape_errors_keep_their_node_id_and_do_not_cause_dangling_edges() -> None:
    definition = good()
    definition["nodes"][1] = {"id": "llm1", "config": {}}
    found = problems(definition)
    assert ("INVALID_NODE", "llm1") in found
    assert not {code for code, _ in found} & {"DANGLING_EDGE"}


def test_duplicate_ids_are_reported() -> None:
    definition = good()
    definition["nodes"].append(node("llm1", "llm", prompt="again"))
    assert ("DUPLICATE_NODE_ID", "llm1") in problems(definition)


def test_unknown_version_is_reported() -> None:
    definition = good()
    definition["nodes"][1]["version"] = 99
    assert ("UNKNOWN_NODE_TYPE", "llm1") in problems(definition)


def test_edge_handles_must_match_the_branches_a_node_can_take() -> None:
    definition = graph(
        [
            node("start", "start"),
            node("check", "condition", cases=[{"id": "yes", "expression": "1 > 0"}]),
            node("x", "delay", seconds=0),
            node("y", "delay", seconds=0),
            node("z", "delay", seconds=0),
            {**node("risky", "delay", seconds=0), "on_error": "branch"},
            node("end", "end"),
        ],
        [
            edge("start", "check"),
            edge("check", "x"),  # a condition edge needs a handle
            edge("check", "y", "maybe"),  # not a case
            edge("check", "z", "yes"),
            edge("x", "end", "done"),  # plain nodes take no branches
            edge("start", "risky"),
            edge("y", "end", "error"),  # y does not branch on error
            edge("z", "end"),
            edge("risky", "end"),  # on_error="branch" without an error edge
        ],
    )
    assert {
        ("MISSING_HANDLE", "check"),
        ("UNKNOWN_HANDLE", "check"),
        ("UNKNOWN_HANDLE", "x"),
        ("INVALID_HANDLE", "y"),
        ("MISSING_ERROR_EDGE", "risky"),
    } <= problems(definition)


def test_start_and_end_edges_point_the_right_way() -> None:
    definition = good()
    definition["edges"].append(edge("end", "start"))
    found = problems(definition)
    assert ("INVALID_EDGE", "start") in found and ("INVALID_EDGE", "end") in found


def test_a_reference_must_name_an_upstream_node_and_an_output_it_has() -> None:
    definition = chain(
        node("start", "start", inputs=[{"name": "q"}]),
        node("assign", "variable_assign", assignments={"a": "{{start.q}}"}),
        node("later", "variable_assign", assignments={"b": "{{assign.a}}"}),
        node("end", "end", outputs={"x": "{{assign.b}}", "y": "{{later.b}}"}),
    )
    found = validate(definition)
    assert [(p.code, p.node_id, p.field) for p in found] == [
        ("UNKNOWN_VARIABLE", "end", "config.outputs.x")
    ]
    assert "(it has: a)" in found[0].message


def test_references_inside_a_loop_body_see_the_item_and_upstream_nodes() -> None:
    def loop(value: str) -> dict[str, Any]:
        return chain(
            node("start", "start", inputs=[{"name": "xs", "type": "array"}]),
            node("each", "loop", items="{{start.xs}}",
                 node={"type": "template", "config": {"template": "{{ v }}",
                                                      "variables": {"v": value}}}),
            node("end", "end"),
        )  # fmt: skip

    assert validate(loop("{{each.item}} {{each.index}} {{start.xs}}")) == []
    bad = validate(loop("{{each.nope}} {{end.x}}"))
    assert [(p.code, p.node_id, p.field) for p in bad] == [
        ("UNKNOWN_VARIABLE", "each", "config.node.config.variables.v"),
        ("UNKNOWN_VARIABLE", "each", "config.node.config.variables.v"),
    ]


def test_inner_nodes_are_checked_too() -> None:
    definition = chain(
        node("start", "start"),
        node("each", "loop", items=[1], node={"type": "llm", "config": {}}),
        node("each2", "loop", items=[1], node={"type": "approval", "config": {"title": "t"}}),
        node("end", "end"),
    )
    found = [(p.code, p.node_id, p.field) for p in validate(definition)]
    assert ("CONFIG_ERROR", "each", "config.node.config.prompt") in found
    assert ("INVALID_INNER_NODE", "each2", "config.node") in found


def test_a_value_that_is_one_reference_is_type_checked_at_run_time_only() -> None:
    definition = chain(
        node("start", "start", inputs=[{"name": "k", "type": "integer"}]),
        node("kb", "knowledge_retrieval", knowledge_base_ids=["kb1"], query="q",
             top_k="{{start.k}}"),
        node("end", "end"),
    )  # fmt: skip
    assert validate(definition) == []
    definition["nodes"][1]["config"]["top_k"] = "five"
    assert ("CONFIG_ERROR", "kb") in problems(definition)


@pytest.mark.parametrize(
    "expression",
    [
        "().__class__.__bases__[0].__subclasses__()",
        "__import__('os').system('id')",
        "open('/etc/passwd')",
        "[x for x in (1, 2)]",
        "(lambda: 1)()",
        "1 +",
    ],
)
def test_a_condition_with_a_malicious_or_broken_expression_is_rejected(expression: str) -> None:
    definition = chain(
        node("start", "start"),
        node("check", "condition", cases=[{"id": "x", "expression": expression}]),
        node("end", "end"),
    )
    definition["edges"][1]["source_handle"] = "x"
    found = [p for p in validate(definition) if p.code == "CONFIG_ERROR"]
    assert [(p.node_id, p.field) for p in found] == [("check", "config.cases[0].expression")]
    with pytest.raises(WorkflowInvalid) as caught:
        WorkflowEngine(definition)
    assert caught.value.details[0]["node_id"] == "check"


def test_a_condition_expression_may_use_names_and_functions() -> None:
    definition = chain(
        node("start", "start"),
        node("check", "condition", cases=[{"id": "x", "expression": "len(s) > 2 # note"}],
             variables={"s": "abc"}),
        node("end", "end"),
    )  # fmt: skip
    definition["edges"][1]["source_handle"] = "x"
    assert validate(definition) == []


def test_template_syntax_errors_are_config_errors() -> None:
    definition = chain(node("start", "start"), node("t", "template", template="{% if %}"),
                       node("end", "end"))  # fmt: skip
    found = validate(definition)
    assert [(p.code, p.node_id, p.field) for p in found] == [
        ("CONFIG_ERROR", "t", "config.template")
    ]


def test_start_is_reserved_for_the_start_node() -> None:
    definition = chain(node("begin", "start"), node("start", "delay", seconds=0),
                       node("end", "end"))  # fmt: skip
    assert ("RESERVED_ID", "start") in problems(definition)


def test_the_engine_refuses_an_invalid_definition_with_every_problem() -> None:
    with pytest.raises(WorkflowInvalid) as caught:
        WorkflowEngine({"nodes": [], "edges": [{"source": "a", "target": "b"}]})
    codes = {d["code"] for d in caught.value.details}
    assert {"MISSING_START", "MISSING_END", "DANGLING_EDGE"} <= codes
    assert caught.value.status == 422
