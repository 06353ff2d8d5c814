"""The agent loop against the real fake LLM server over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from tests.runtime.conftest import ModelFactory
from tiangong.errors import NotFound
from tiangong.runtime.agent import (
    AgentEvent,
    DoneEvent,
    ErrorEvent,
    ReasoningEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
    run_agent,
)
from tiangong.runtime.llm import (
    ChatMessage,
    ChatParams,
    ChatResult,
    LLMCallRecord,
    StreamDelta,
    TextDelta,
    ToolSpec,
)
from tiangong.testing.fake_llm import FakeLLM

E = TypeVar("E")
PARAMS = ChatParams(model="fake-model")
HELLO = [ChatMessage(role="user", content="hello")]


class Tools:
    """A ToolExecutor over plain async functions, recording what it was asked to run."""

    def __init__(self, **functions: Callable[..., Awaitable[Any]]) -> None:
        self.functions = functions
        self.executed: list[tuple[str, dict[str, Any]]] = []

    def specs(self) -> Sequence[ToolSpec]:
        return [ToolSpec(name=name, description=f"the {name} tool") for name in self.functions]

    async def execute(self, name: str, arguments: dict[str, Any]) -> Any:
        self.executed.append((name, arguments))
        return await self.functions[name](**arguments)


async def weather(city: str) -> dict[str, Any]:
    return {"city": city, "temp": 21}


async def collect(events: AsyncIterator[AgentEvent]) -> list[AgentEvent]:
    return [event async for event in events]


def of_type(events: list[AgentEvent], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


def tool_call(name: str, arguments: str | dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"tool_calls": [{"id": call_id, "name": name, "arguments": arguments}]}


async def test_plain_answer_streams_tokens_in_order_then_done_with_usage(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 3}
    fake.script([{"content": "Hello world!", "chunk_size": 4, "usage": usage}])

    events = await collect(run_agent(make_model(), HELLO, PARAMS))

    assert events[:-1] == [TokenEvent("Hell"), TokenEvent("o wo"), TokenEvent("rld!")]
    assert events[-1] == DoneEvent(
        content="Hello world!",
        reasoning="",
        token_usage={
            "prompt_tokens": 5,
            "completion_tokens": 3,
            "reasoning_tokens": 0,
            "total_tokens": 8,
        },
        iterations=1,
        finish_reason="stop",
        tool_calls=[],
    )
    assert "tools" not in fake.requests[0]


async def test_reasoning_is_relayed_before_the_answer(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([{"reasoning": "think hard", "content": "42", "chunk_size": 5}])

    events = await collect(run_agent(make_model(), HELLO, PARAMS))

    assert events[:3] == [ReasoningEvent("think"), ReasoningEvent(" hard"), TokenEvent("42")]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert (done.content, done.reasoning) == ("42", "think hard")


async def test_tool_result_is_fed_back_and_the_model_answers(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script(
        [
            {**tool_call("weather", {"city": "Paris"}, "call_w"), "usage": {"prompt_tokens": 10}},
            {"content": "Sunny, 21.", "usage": {"prompt_tokens": 20, "completion_tokens": 4}},
        ]
    )
    tools = Tools(weather=weather)

    events = await collect(run_agent(make_model(), HELLO, PARAMS, tools=tools))

    assert [e.type for e in events] == [
        "tool_call",
        "tool_result",
        "token",
        "token",
        "token",
        "done",
    ]
    assert events[0] == ToolCallEvent("call_w", "weather", {"city": "Paris"})
    result = events[1]
    assert isinstance(result, ToolResultEvent)
    assert (result.result, result.error) == ({"city": "Paris", "temp": 21}, None)
    assert tools.executed == [("weather", {"city": "Paris"})]
    assert fake.requests[0]["tools"][0]["function"]["name"] == "weather"
    assert fake.requests[1]["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_w",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_w", "content": '{"city": "Paris", "temp": 21}'},
    ]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert (done.content, done.iterations, done.finish_reason) == ("Sunny, 21.", 2, "stop")
    assert done.token_usage["prompt_tokens"] == 30
    assert done.token_usage["total_tokens"] == sum(
        done.token_usage[k] for k in ("prompt_tokens", "completion_tokens")
    )
    assert done.tool_calls == [
        {
            "id": "call_w",
            "name": "weather",
            "arguments": {"city": "Paris"},
            "result": {"city": "Paris", "temp": 21},
            "error": None,
            "duration_ms": result.duration_ms,
        }
    ]


async def test_reasoning_is_not_sent_back_to_the_model(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script(
        [
            {
                "reasoning": "secret plan",
                "content": "Let me check.",
                **tool_call("weather", {"city": "Oslo"}, "call_1"),
            },
            {"content": "Cold."},
        ]
    )

    events = await collect(run_agent(make_model(), HELLO, PARAMS, tools=Tools(weather=weather)))

    assistant = fake.requests[1]["messages"][1]
    assert assistant["content"] == "Let me check."
    assert set(assistant) == {"role", "content", "tool_calls"}
    assert "secret plan" not in json.dumps(fake.requests[1])
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert (done.content, done.reasoning) == ("Let me check.Cold.", "secret plan")


async def test_tool_calls_of_one_turn_run_concurrently(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    async def slow(label: str) -> str:
        await asyncio.sleep(0.3)
        return label

    calls = [
        {"id": "a", "name": "slow", "arguments": {"label": "first"}},
        {"id": "b", "name": "slow", "arguments": {"label": "second"}},
    ]
    fake.script([{"tool_calls": calls}, {"content": "done"}])

    tool_phase_started = 0.0
    results: list[ToolResultEvent] = []
    async for event in run_agent(make_model(), HELLO, PARAMS, tools=Tools(slow=slow)):
        if isinstance(event, ToolCallEvent):
            tool_phase_started = time.perf_counter()
        elif isinstance(event, ToolResultEvent):
            results.append(event)
            tool_phase = time.perf_counter() - tool_phase_started

    assert [(r.call_id, r.result) for r in results] == [("a", "first"), ("b", "second")]
    assert all(r.duration_ms >= 290 for r in results)
    assert tool_phase < 0.5
    tool_messages = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["a", "b"]


async def test_raising_tool_becomes_an_error_result_the_model_reads(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    async def broken() -> None:
        raise ValueError("disk on fire")

    fake.script([tool_call("broken", {}, "c1"), {"content": "Sorry."}])

    events = await collect(run_agent(make_model(), HELLO, PARAMS, tools=Tools(broken=broken)))

    result = of_type(events, ToolResultEvent)[0]
    assert (result.result, result.error) == (None, "ValueError: disk on fire")
    assert fake.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "Error: ValueError: disk on fire",
    }
    assert isinstance(events[-1], DoneEvent)


async def test_app_error_from_a_tool_reports_its_message(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    async def lookup() -> None:
        raise NotFound("No such order.")

    fake.script([tool_call("lookup", {}, "c1"), {"content": "ok"}])

    events = await collect(run_agent(make_model(), HELLO, PARAMS, tools=Tools(lookup=lookup)))

    assert of_type(events, ToolResultEvent)[0].error == "No such order."


async def test_unknown_tool_is_refused_without_running_anything(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([tool_call("rm_rf", {}, "c1"), {"content": "ok"}])
    tools = Tools(weather=weather)

    events = await collect(run_agent(make_model(), HELLO, PARAMS, tools=tools))

    assert of_type(events, ToolResultEvent)[0].error == "Unknown tool 'rm_rf'."
    assert tools.executed == []
    assert fake.requests[1]["messages"][-1]["content"] == "Error: Unknown tool 'rm_rf'."
    assert isinstance(events[-1], DoneEvent)


async def test_tool_call_without_any_executor_is_refused(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([tool_call("weather", {}, "c1"), {"content": "ok"}])

    events = await collect(run_agent(make_model(), HELLO, PARAMS))

    assert of_type(events, ToolResultEvent)[0].error == "Unknown tool 'weather'."
    assert isinstance(events[-1], DoneEvent)


async def test_unparseable_arguments_are_refused_and_not_echoed_back(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([tool_call("weather", '{"city": Par', "c1"), {"content": "ok"}])
    tools = Tools(weather=weather)

    events = await collect(run_agent(make_model(), HELLO, PARAMS, tools=tools))

    assert of_type(events, ToolCallEvent)[0].arguments == '{"city": Par'
    result = of_type(events, ToolResultEvent)[0]
    assert result.error is not None and result.error.startswith("Invalid JSON")
    assert tools.executed == []
    history = fake.requests[1]["messages"]
    assert history[1]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert history[2]["content"].startswith("Error: Invalid JSON")


async def test_arguments_that_are_not_an_object_are_refused(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([tool_call("weather", "[1, 2]", "c1"), {"content": "ok"}])

    events = await collect(run_agent(make_model(), HELLO, PARAMS, tools=Tools(weather=weather)))

    assert of_type(events, ToolResultEvent)[0].error == "Tool arguments must be a JSON object."


async def test_slow_tool_times_out_as_an_error_result(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    async def stuck() -> None:
        await asyncio.sleep(10)

    fake.script([tool_call("stuck", {}, "c1"), {"content": "ok"}])

    events = await collect(
        run_agent(make_model(), HELLO, PARAMS, tools=Tools(stuck=stuck), tool_timeout_s=0.05)
    )

    assert of_type(events, ToolResultEvent)[0].error == "Tool timed out after 0.05 s."
    assert isinstance(events[-1], DoneEvent)


async def test_tool_results_become_plain_json_data(make_model: ModelFactory, fake: FakeLLM) -> None:
    @dataclass
    class Forecast:
        city: str
        days: tuple[int, ...]

    async def forecast() -> Forecast:
        return Forecast("Rome", (1, 2))

    fake.script([tool_call("forecast", {}, "c1"), {"content": "ok"}])

    events = await collect(run_agent(make_model(), HELLO, PARAMS, tools=Tools(forecast=forecast)))

    assert of_type(events, ToolResultEvent)[0].result == {"city": "Rome", "days": [1, 2]}
    json.dumps([e.to_dict() for e in events])


async def test_iteration_limit_stops_a_model_that_keeps_calling_tools(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([{"content": "step ", **tool_call("weather", {"city": "X"}, "c"), "times": 5}])

    events = await collect(
        run_agent(make_model(), HELLO, PARAMS, tools=Tools(weather=weather), iteration_limit=3)
    )

    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert (done.finish_reason, done.iterations) == ("iteration_limit", 3)
    assert done.content == "step step step "
    assert len(done.tool_calls) == 3
    assert len(fake.requests) == 3


async def test_stream_dropped_mid_answer_ends_with_an_error_event(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([{"content": "Hello world", "chunk_size": 4, "fault": "drop", "drop_after": 2}])

    events = await collect(run_agent(make_model(), HELLO, PARAMS))

    assert events[:2] == [TokenEvent("Hell"), TokenEvent("o wo")]
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.code == "LLM_STREAM_INTERRUPTED"
    assert error.partial_content == "Hello wo"
    assert len(events) == 3


async def test_llm_failure_after_a_tool_turn_keeps_what_was_produced(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 2}
    fake.script(
        [
            {"reasoning": "hmm", **tool_call("weather", {"city": "Rome"}, "c1"), "usage": usage},
            {"fault": "500"},
        ]
    )

    events = await collect(
        run_agent(make_model(max_retries=0), HELLO, PARAMS, tools=Tools(weather=weather))
    )

    assert [e.type for e in events] == ["reasoning", "tool_call", "tool_result", "error"]
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.code == "LLM_PROVIDER_ERROR"
    assert (error.partial_content, error.partial_reasoning) == ("", "hmm")
    assert error.token_usage == {
        "prompt_tokens": 7,
        "completion_tokens": 2,
        "reasoning_tokens": 1,
        "total_tokens": 9,
    }


class ExplodingModel:
    """A ChatModel with a bug: it fails with a non-platform exception mid-stream."""

    async def chat(self, messages: Sequence[ChatMessage], params: ChatParams) -> ChatResult:
        raise NotImplementedError

    async def stream(
        self, messages: Sequence[ChatMessage], params: ChatParams
    ) -> AsyncGenerator[StreamDelta, None]:
        yield TextDelta("partial")
        raise RuntimeError("bug in the model adapter")


async def test_unexpected_exception_becomes_an_agent_error_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = await collect(run_agent(ExplodingModel(), HELLO, PARAMS))

    assert events[0] == TokenEvent("partial")
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert (error.code, error.partial_content) == ("AGENT_ERROR", "partial")
    assert "bug in the model adapter" not in error.message
    assert "agent run failed" in caplog.text


async def test_callers_messages_are_not_mutated(make_model: ModelFactory, fake: FakeLLM) -> None:
    fake.script([tool_call("weather", {"city": "Rome"}, "c1"), {"content": "ok"}])
    messages = [ChatMessage(role="system", content="be brief"), *HELLO]
    before = list(messages)

    await collect(run_agent(make_model(), messages, PARAMS, tools=Tools(weather=weather)))

    assert messages == before
    assert len(fake.requests[1]["messages"]) == 4


async def test_closing_the_run_mid_stream_closes_the_llm_stream_at_once(
    make_model: ModelFactory,
    fake: FakeLLM,
    calls: list[LLMCallRecord],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tiangong.runtime.llm.client")
    fake.script([{"content": "a long answer", "chunk_size": 1, "delay_ms": 20}])

    async with aclosing(run_agent(make_model(), HELLO, PARAMS)) as events:
        async for event in events:
            assert event == TokenEvent("a")
            break

    # Closed before aclose() returned, not later by the garbage collector.
    assert "llm call fake-model cancelled" in caplog.text
    for _ in range(100):
        if calls:
            break
        await asyncio.sleep(0.01)
    assert [c.outcome for c in calls] == ["cancelled"]


async def test_cancelling_the_consumer_cancels_running_tools(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    fake.script([tool_call("forever", {}, "c1")])

    async def consume() -> None:
        async for _ in run_agent(make_model(), HELLO, PARAMS, tools=Tools(forever=forever)):
            pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


def test_events_serialise_with_their_wire_type() -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "reasoning_tokens": 0, "total_tokens": 3}
    events: list[AgentEvent] = [
        TokenEvent("hi"),
        ReasoningEvent("hm"),
        ToolCallEvent("c1", "weather", {"city": "Rome"}),
        ToolResultEvent("c1", "weather", {"city": "Rome"}, {"temp": 3}, None, 1.5),
        DoneEvent("hi", "hm", usage, 2, "stop", [{"id": "c1"}]),
        ErrorEvent("LLM_TIMEOUT", "slow", "h", "", usage),
    ]

    assert [e.type for e in events] == [
        "token",
        "reasoning",
        "tool_call",
        "tool_result",
        "done",
        "error",
    ]
    payloads = [json.loads(json.dumps(e.to_dict())) for e in events]
    assert payloads[0] == {"text": "hi"}
    assert "type" not in payloads[4]
    assert payloads[3] == {
        "call_id": "c1",
        "name": "weather",
        "arguments": {"city": "Rome"},
        "result": {"temp": 3},
        "error": None,
        "duration_ms": 1.5,
    }
    assert payloads[5]["partial_content"] == "h"
