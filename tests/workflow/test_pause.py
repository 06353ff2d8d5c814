"""Pausing between nodes on request (`should_pause`), resuming, and config overrides."""

from __future__ import annotations

from tests.workflow.conftest import by_node, chain, collect, edge, graph, node, of_type
from tiangong.runtime.workflow import MemoryCheckpointStore, WorkflowEngine


def _pipeline() -> dict[str, object]:
    """start -> (a, b in parallel) -> c -> end."""
    return graph(
        [
            node("start", "start"),
            node("a", "test_sleep", seconds=0.1, value="a"),
            node("b", "test_sleep", seconds=0.05, value="b"),
            node("c", "test_sleep", value="c"),
            node("end", "end", outputs={"c": "{{c.value}}"}),
        ],
        [
            edge("start", "a"),
            edge("start", "b"),
            edge("a", "c"),
            edge("b", "c"),
            edge("c", "end"),
        ],
    )


async def test_pause_lets_running_nodes_finish_then_launches_nothing_more() -> None:
    store = MemoryCheckpointStore()
    engine = WorkflowEngine(_pipeline(), checkpoint=store)
    asked = {"pause": False}
    events = []
    async for event in engine.run({}, "r1", should_pause=lambda: asked["pause"]):
        events.append(event)
        if event.type == "node_started" and event.node_id == "b":
            asked["pause"] = True  # a and b are both in flight now
    assert events[-1].type == "run_paused" and events[-1].pending == []
    assert set(by_node(events, "node_succeeded")) == {"start", "a", "b"}
    assert "c" not in by_node(events, "node_started")
    state = await store.load("r1")
    assert state is not None and state.run.status == "paused"

    resumed = await collect(engine.resume("r1", should_pause=lambda: False))
    assert resumed[-1].type == "run_finished" and resumed[-1].outputs == {"c": "c"}
    # Finished nodes were replayed, not run again.
    assert set(by_node(resumed, "node_started")) == {"c", "end"}


async def test_pause_asked_before_the_start_runs_nothing() -> None:
    store = MemoryCheckpointStore()
    engine = WorkflowEngine(_pipeline(), checkpoint=store)
    events = await collect(engine.run({}, "r2", should_pause=lambda: True))
    assert [e.type for e in events] == ["run_started", "run_paused"]
    resumed = await collect(engine.resume("r2"))
    assert resumed[-1].type == "run_finished"
    assert len(of_type(resumed, "node_started")) == 5


async def test_pause_asked_once_nothing_is_left_to_launch_finishes_the_run() -> None:
    engine = WorkflowEngine(chain(node("start", "start"), node("end", "end", outputs={})))
    asked = {"pause": False, "calls": 0}

    def should_pause() -> bool:
        asked["calls"] += 1
        return bool(asked["pause"])

    events = []
    async for event in engine.run({}, "r3", should_pause=should_pause):
        events.append(event)
        if event.type == "node_started" and event.node_id == "end":
            asked["pause"] = True
    assert events[-1].type == "run_finished"
    assert asked["calls"] == 2  # asked once per node launched, never in between


async def test_overrides_replace_config_fields_of_the_named_nodes() -> None:
    definition = chain(
        node("start", "start"),
        node("a", "test_sleep", value="from definition"),
        node("b", "test_sleep", value="{{a.value}}"),
        node("end", "end", outputs={"a": "{{a.value}}", "b": "{{b.value}}"}),
    )
    engine = WorkflowEngine(definition)
    events = await collect(
        engine.run({}, "r4", overrides={"a": {"value": "edited"}, "b": {"seconds": 0.01}})
    )
    assert events[-1].type == "run_finished"
    assert events[-1].outputs == {"a": "edited", "b": "edited"}
    assert by_node(events, "node_started")["a"].inputs["value"] == "edited"
    plain = await collect(engine.run({}, "r5"))
    assert plain[-1].outputs == {"a": "from definition", "b": "from definition"}
