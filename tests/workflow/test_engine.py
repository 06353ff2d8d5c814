"""Scheduling, branching, concurrency, timeouts, retries and error handling of the engine."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.workflow.conftest import (
    FakeServices,
    Gauge,
    by_node,
    chain,
    edge,
    graph,
    node,
    of_type,
    run_all,
)
from tiangong.runtime.workflow import MemoryCheckpointStore, WorkflowEngine

START = node("start", "start", inputs=[{"name": "n", "type": "integer"}])


def finished(events: list[Any]) -> dict[str, Any]:
    assert events[-1].type == "run_finished", events[-1]
    return dict(events[-1].outputs)


async def test_linear_chain_runs_each_node_once_in_order_and_passes_values() -> None:
    engine = WorkflowEngine(
        chain(
            START,
            node("double", "variable_assign", assignments={"v": "{{start.n}}", "list": [1, 2]}),
            node(
                "say",
                "template",
                template="{{ v * 2 }} {{ items|length }}",
                variables={"v": "{{double.v}}", "items": "{{double.list}}"},
            ),
            node("end", "end", outputs={"text": "{{say.text}}", "raw": "{{double.v}}"}),
        )
    )
    events = await run_all(engine, {"n": 21}, run_id="run-1")

    kinds = [(e.type, getattr(e, "node_id", None)) for e in events]
    assert kinds == [
        ("run_started", None),
        ("node_started", "start"), ("node_succeeded", "start"),
        ("node_started", "double"), ("node_succeeded", "double"),
        ("node_started", "say"), ("node_succeeded", "say"),
        ("node_started", "end"), ("node_succeeded", "end"),
        ("run_finished", None),
    ]  # fmt: skip
    assert all(e.run_id == "run-1" for e in events)
    # An exact reference keeps the value's type; one inside a string is rendered as text.
    assert finished(events) == {"text": "42 2", "raw": 21}
    started = by_node(events, "node_started")
    assert started["say"].inputs["variables"] == {"v": 21, "items": [1, 2]}
    done = by_node(events, "node_succeeded")["say"]
    assert done.finished_at >= done.started_at and done.duration_ms >= 0
    assert done.to_dict()["outputs"] == {"text": "42 2"}


async def test_embedded_references_render_objects_as_json_and_null_as_empty() -> None:
    engine = WorkflowEngine(
        chain(
            node("start", "start", inputs=[{"name": "obj", "type": "object"}]),
            node("a", "variable_assign", assignments={
                "s": "obj={{start.obj}} first={{start.obj.items[0]}} none=[{{start.obj.none}}]",
                "deep": "{{start.obj.items[-1]}}",
            }),
            node("end", "end", outputs={"s": "{{a.s}}", "deep": "{{a.deep}}"}),
        )
    )  # fmt: skip
    events = await run_all(engine, {"obj": {"items": [1, 2], "none": None}})
    assert finished(events) == {
        "s": 'obj={"items": [1, 2], "none": null} first=1 none=[]',
        "deep": 2,
    }


async def test_ready_branches_run_concurrently_and_the_join_waits_for_both() -> None:
    engine = WorkflowEngine(
        graph(
            [
                node("start", "start"),
                node("left", "delay", seconds=0.2),
                node("right", "delay", seconds=0.2),
                node("join", "join"),
                node("end", "end", outputs={"joined": "{{join}}"}),
            ],
            [
                edge("start", "left"),
                edge("start", "right"),
                edge("left", "join"),
                edge("right", "join"),
                edge("join", "end"),
            ],
        )
    )
    events = await run_all(engine)

    # Concurrent: both branches started before either finished (event order, not wall time,
    # which a stalled CI box can stretch).
    def at(kind: str, node_id: str) -> int:
        return next(i for i, e in enumerate(events) if e.type == kind and e.node_id == node_id)

    first_done = min(at("node_succeeded", "left"), at("node_succeeded", "right"))
    assert max(at("node_started", "left"), at("node_started", "right")) < first_done
    assert finished(events) == {"joined": {"left": {}, "right": {}}}
    order = [getattr(e, "node_id", None) for e in of_type(events, "node_started")]
    assert order.index("join") > max(order.index("left"), order.index("right"))


async def test_max_concurrency_bounds_the_branches_running_at_once(
    gauges: dict[str, Gauge],
) -> None:
    branches = [node(f"b{i}", "test_sleep", seconds=0.02, gauge="g") for i in range(6)]
    definition = graph(
        [node("start", "start"), *branches, node("end", "end")],
        [edge("start", b["id"]) for b in branches] + [edge(b["id"], "end") for b in branches],
    )
    events = await run_all(WorkflowEngine(definition, max_concurrency=2))
    assert events[-1].type == "run_finished"
    assert gauges["g"].peak == 2


def condition_graph() -> dict[str, Any]:
    return graph(
        [
            START,
            node("check", "condition",
                 cases=[{"id": "big", "expression": "n > 100"},
                        {"id": "medium", "expression": "n > 10 and n <= 100"}],
                 variables={"n": "{{start.n}}"}),
            node("big", "variable_assign", assignments={"size": "big"}),
            node("medium", "variable_assign", assignments={"size": "medium"}),
            node("small", "variable_assign", assignments={"size": "small"}),
            node("small_more", "variable_assign", assignments={"again": "{{small.size}}"}),
            node("end", "end", outputs={
                "sizes": ["{{big.size}}", "{{medium.size}}", "{{small.size}}"],
                "branch": "{{check.branch}}",
            }),
        ],
        [
            edge("start", "check"),
            edge("check", "big", "big"),
            edge("check", "medium", "medium"),
            edge("check", "small", "else"),
            edge("small", "small_more"),
            edge("big", "end"),
            edge("medium", "end"),
            edge("small_more", "end"),
        ],
    )  # fmt: skip


async def test_condition_takes_if_elif_else_and_skips_the_rest_downstream() -> None:
    engine = WorkflowEngine(condition_graph())
    cases = {500: ("big", ["big", None, None]), 50: ("medium", [None, "medium", None]),
             5: ("else", [None, None, "small"])}  # fmt: skip
    for n, (branch, sizes) in cases.items():
        events = await run_all(engine, {"n": n})
        assert finished(events) == {"sizes": sizes, "branch": branch}
        skipped = set(by_node(events, "node_skipped"))
        ran = set(by_node(events, "node_succeeded"))
        if branch == "else":
            assert skipped == {"big", "medium"}
        else:
            # The skip propagates down the untaken branch; the merging end still runs.
            assert skipped == {"big", "medium", "small", "small_more"} - {branch}
        assert "end" in ran and not skipped & ran


async def test_loop_runs_the_inner_node_per_item_within_the_concurrency_limit(
    gauges: dict[str, Gauge],
) -> None:
    engine = WorkflowEngine(
        chain(
            node("start", "start", inputs=[{"name": "items", "type": "array"},
                                            {"name": "tag", "type": "string"}]),
            node("each", "loop", items="{{start.items}}", concurrency=2, node={
                "type": "test_sleep",
                "config": {"seconds": 0.03, "gauge": "loop",
                           "value": "{{start.tag}}-{{each.index}}-{{each.item}}"},
            }),
            node("end", "end", outputs={"results": "{{each.results}}", "count": "{{each.count}}"}),
        )
    )  # fmt: skip
    events = await run_all(engine, {"items": ["a", "b", "c", "d", "e"], "tag": "t"})
    outputs = finished(events)
    assert outputs["count"] == 5
    assert [r["value"] for r in outputs["results"]] == ["t-0-a", "t-1-b", "t-2-c", "t-3-d", "t-4-e"]
    assert gauges["loop"].peak == 2


async def test_a_failing_loop_item_fails_the_loop_after_its_own_retries() -> None:
    engine = WorkflowEngine(
        chain(
            node("start", "start"),
            node("each", "loop", items=[1, 2], node={
                "type": "test_flaky", "config": {"failures": 5},
                "retry": {"max_attempts": 2},
            }),
            node("end", "end"),
        )
    )  # fmt: skip
    events = await run_all(engine)
    assert events[-1].type == "run_failed"
    assert events[-1].node_id == "each"
    assert "each-node" in events[-1].error["message"]


async def test_timeout_takes_the_error_branch_and_skips_the_plain_edges() -> None:
    definition = graph(
        [
            node("start", "start"),
            {**node("slow", "delay", seconds=5), "timeout_s": 0.05, "on_error": "branch"},
            node("after", "variable_assign", assignments={"ok": True}),
            node("handler", "variable_assign", assignments={"code": "{{slow.error.code}}"}),
            node("end", "end", outputs={"code": "{{handler.code}}", "ok": "{{after.ok}}"}),
        ],
        [
            edge("start", "slow"),
            edge("slow", "after"),
            edge("slow", "handler", "error"),
            edge("after", "end"),
            edge("handler", "end"),
        ],
    )
    started = time.perf_counter()
    events = await run_all(WorkflowEngine(definition))
    assert time.perf_counter() - started < 1
    failed = by_node(events, "node_failed")["slow"]
    assert failed.error["code"] == "NODE_TIMEOUT" and failed.handling == "branch"
    assert set(by_node(events, "node_skipped")) == {"after"}
    assert finished(events) == {"code": "NODE_TIMEOUT", "ok": None}


async def test_retry_runs_the_node_again_until_it_succeeds() -> None:
    flaky = {**node("flaky", "test_flaky", failures=2, value="done"),
             "retry": {"max_attempts": 3, "backoff_s": 0.01}}  # fmt: skip
    engine = WorkflowEngine(
        chain(node("start", "start"), flaky, node("end", "end", outputs={"v": "{{flaky.value}}"}))
    )
    events = await run_all(engine)
    assert finished(events) == {"v": "done"}
    succeeded = by_node(events, "node_succeeded")["flaky"]
    assert succeeded.attempts == 3 and succeeded.outputs["attempt"] == 3
    assert len(by_node(events, "node_started")) == 3  # started once per node, not per attempt


async def test_retry_gives_up_after_max_attempts_and_fails_the_run() -> None:
    flaky = {**node("flaky", "test_flaky", failures=5), "retry": {"max_attempts": 2}}
    engine = WorkflowEngine(chain(node("start", "start"), flaky, node("end", "end")))
    events = await run_all(engine)
    failed = by_node(events, "node_failed")["flaky"]
    assert failed.attempts == 2 and failed.handling == "fail"
    assert "attempt 2" in failed.error["message"]
    assert events[-1].type == "run_failed" and events[-1].node_id == "flaky"
    assert "end" not in by_node(events, "node_started")


async def test_non_retryable_errors_are_not_retried() -> None:
    # The sub-workflow answers without 'missing': resolving the reference fails for good.
    engine = WorkflowEngine(
        chain(
            node("start", "start"),
            node("sub", "sub_workflow", workflow_id="wf", inputs={"x": 1}),
            {**node("use", "variable_assign", assignments={"v": "{{sub.missing}}"}),
             "retry": {"max_attempts": 5}},
            node("end", "end"),
        ),
        FakeServices().services(),
    )  # fmt: skip
    events = await run_all(engine)
    failed = by_node(events, "node_failed")["use"]
    assert failed.error["code"] == "VARIABLE_ERROR" and "missing" in failed.error["message"]
    assert failed.attempts == 0  # failed while resolving its config, before any attempt


async def test_on_error_continue_passes_the_error_downstream() -> None:
    engine = WorkflowEngine(
        chain(
            node("start", "start"),
            {**node("broken", "test_flaky", failures=1), "on_error": "continue"},
            node("end", "end", outputs={"message": "{{broken.error.message}}"}),
        )
    )
    events = await run_all(engine)
    assert by_node(events, "node_failed")["broken"].handling == "continue"
    assert finished(events) == {"message": "RuntimeError: flaky failure on attempt 1"}


async def test_a_failure_stops_the_run_and_cancels_the_other_branches() -> None:
    store = MemoryCheckpointStore()
    definition = graph(
        [
            node("start", "start"),
            node("slow", "delay", seconds=5),
            node("broken", "test_flaky", failures=1),
            node("end", "end"),
        ],
        [edge("start", "slow"), edge("start", "broken"), edge("slow", "end"),
         edge("broken", "end")],
    )  # fmt: skip
    started = time.perf_counter()
    events = await run_all(WorkflowEngine(definition, checkpoint=store), run_id="r")
    assert time.perf_counter() - started < 1
    assert events[-1].type == "run_failed" and events[-1].node_id == "broken"
    cancelled = by_node(events, "node_failed")["slow"]
    assert cancelled.error["code"] == "CANCELLED"
    state = await store.load("r")
    assert state is not None and state.run.status == "failed"
    assert state.nodes["slow"].status == "failed" and not state.nodes["slow"].settled


async def test_closing_the_event_stream_early_cancels_running_nodes(
    gauges: dict[str, Gauge],
) -> None:
    engine = WorkflowEngine(
        chain(node("start", "start"), node("slow", "test_sleep", seconds=5, gauge="g"),
              node("end", "end"))
    )  # fmt: skip
    stream = engine.run({})
    async for event in stream:
        if event.type == "node_started" and event.node_id == "slow":
            break
    await asyncio.sleep(0.01)
    assert gauges["g"].current == 1
    await stream.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0.01)
    assert gauges["g"].current == 0


async def test_an_engine_serves_concurrent_runs_independently() -> None:
    engine = WorkflowEngine(
        chain(START, node("wait", "delay", seconds=0.05),
              node("end", "end", outputs={"n": "{{start.n}}"}))
    )  # fmt: skip
    results = await asyncio.gather(*(run_all(engine, {"n": i}) for i in range(10)))
    assert [finished(events)["n"] for events in results] == list(range(10))


async def test_events_serialise_with_their_type() -> None:
    events = await run_all(WorkflowEngine(chain(START, node("end", "end"))), {"n": 1})
    for event in events:
        payload = event.to_dict()
        assert "type" not in payload and payload["run_id"] == events[0].run_id
    assert [e.type for e in events][0] == "run_started"


async def test_one_compiled_engine_bound_to_several_stores_runs_them_apart() -> None:
    """`bind` reuses the validated, compiled workflow with another checkpoint store and
    services; the bound copies share nothing a run writes."""
    compiled = WorkflowEngine(
        chain(node("start", "start"), node("mid", "variable_assign"), node("end", "end"))
    )
    stores = [MemoryCheckpointStore() for _ in range(3)]
    runs = [
        run_all(compiled.bind(checkpoint=store), {}, run_id=f"r{i}")
        for i, store in enumerate(stores)
    ]
    results = await asyncio.gather(*runs)
    for i, (events, store) in enumerate(zip(results, stores, strict=True)):
        assert events[-1].type == "run_finished", events[-1]
        state = await store.load(f"r{i}")
        assert state is not None and set(state.nodes) == {"start", "mid", "end"}
        others = [await other.load(f"r{i}") for other in stores if other is not store]
        assert others == [None, None]
    assert compiled.checkpoint is None  # the original is untouched
