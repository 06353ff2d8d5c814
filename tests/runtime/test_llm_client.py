"""OpenAICompatibleModel against the real fake LLM server over HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import aclosing

import httpx2
import openai
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.loopback import LoopbackServer
from tests.runtime.conftest import RUNTIME_KEY, ModelFactory
from tiangong.errors import TooManyRequests, UpstreamError
from tiangong.runtime.llm import (
    ChatMessage,
    ChatParams,
    FinishDelta,
    LLMCallRecord,
    LLMError,
    OpenAICompatibleModel,
    ReasoningDelta,
    StreamDelta,
    TextDelta,
    ToolCall,
    ToolCallAssembler,
    ToolCallDelta,
    ToolSpec,
    UsageDelta,
)
from tiangong.runtime.llm.errors import map_error
from tiangong.testing.fake_llm import FakeLLM

PARAMS = ChatParams(model="fake-model")
HELLO = [ChatMessage(role="user", content="hello")]


async def collect(stream: AsyncIterator[StreamDelta]) -> list[StreamDelta]:
    return [delta async for delta in stream]


def text_of(deltas: list[StreamDelta]) -> str:
    return "".join(d.text for d in deltas if isinstance(d, TextDelta))


async def test_chat_returns_text_usage_and_latency(make_model: ModelFactory, fake: FakeLLM) -> None:
    fake.script([{"content": "Hi there", "usage": {"prompt_tokens": 7, "completion_tokens": 3}}])

    result = await make_model().chat(HELLO, PARAMS)

    assert result.text == "Hi there"
    assert result.finish_reason == "stop"
    assert result.tool_calls == []
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (7, 3)
    assert result.usage.total_tokens == 10
    assert result.latency_ms > 0
    assert fake.requests[0]["messages"] == [{"role": "user", "content": "hello"}]
    assert fake.requests[0]["stream"] is False


async def test_stream_yields_text_in_order_then_finish_then_usage(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    usage = {"prompt_tokens": 11, "completion_tokens": 22, "reasoning_tokens": 5}
    fake.script([{"content": "The quick brown fox", "chunk_size": 3, "usage": usage}])

    deltas = await collect(make_model().stream(HELLO, PARAMS))

    texts = [d.text for d in deltas if isinstance(d, TextDelta)]
    assert texts == ["The", " qu", "ick", " br", "own", " fo", "x"]
    assert deltas[-2:] == [
        FinishDelta("stop"),
        UsageDelta(prompt_tokens=11, completion_tokens=22, reasoning_tokens=5, total_tokens=33),
    ]
    assert fake.requests[0]["stream"] is True
    assert fake.requests[0]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
async def test_stream_yields_reasoning_before_text(
    make_model: ModelFactory, fake: FakeLLM, key: str
) -> None:
    fake.script([{"reasoning": "Let me think.", "reasoning_key": key, "content": "42"}])

    deltas = await collect(make_model().stream(HELLO, PARAMS))

    kinds = [type(d).__name__ for d in deltas if isinstance(d, ReasoningDelta | TextDelta)]
    assert kinds == ["ReasoningDelta"] * 4 + ["TextDelta"]
    assert "".join(d.text for d in deltas if isinstance(d, ReasoningDelta)) == "Let me think."
    assert text_of(deltas) == "42"


async def test_chat_returns_reasoning(make_model: ModelFactory, fake: FakeLLM) -> None:
    fake.script([{"reasoning": "hmm", "content": "yes"}])

    result = await make_model().chat(HELLO, PARAMS)

    assert (result.reasoning, result.text) == ("hmm", "yes")


async def test_tool_call_fragments_assemble_into_complete_calls(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    calls = [
        {"id": "call_a", "name": "get_weather", "arguments": {"city": "Hangzhou", "days": 3}},
        {"id": "call_b", "name": "search", "arguments": '{"q": "天宫"}'},
    ]
    fake.script([{"tool_calls": calls, "chunk_size": 5}])
    assembler = ToolCallAssembler()

    deltas = await collect(make_model().stream(HELLO, PARAMS))
    for delta in deltas:
        if isinstance(delta, ToolCallDelta):
            assembler.add(delta)

    fragments = [d for d in deltas if isinstance(d, ToolCallDelta) and d.index == 0]
    assert len(fragments) > 3
    assert assembler.calls() == [
        ToolCall("call_a", "get_weather", '{"city": "Hangzhou", "days": 3}'),
        ToolCall("call_b", "search", '{"q": "天宫"}'),
    ]
    assert FinishDelta("tool_calls") in deltas


async def test_chat_returns_tool_calls(make_model: ModelFactory, fake: FakeLLM) -> None:
    fake.script([{"tool_calls": [{"id": "c1", "name": "now", "arguments": "{}"}]}])

    result = await make_model().chat(HELLO, PARAMS)

    assert result.tool_calls == [ToolCall("c1", "now", "{}")]
    assert result.finish_reason == "tool_calls"
    assert result.text == ""


def test_assembler_tolerates_repeated_names_and_missing_ids() -> None:
    assembler = ToolCallAssembler()
    for delta in [
        ToolCallDelta(1, None, "b", '{"x"'),
        ToolCallDelta(0, "id0", "a", ""),
        ToolCallDelta(1, None, "b", ": 1}"),
        ToolCallDelta(0, "id0", None, ""),
        ToolCallDelta(2, "orphan", None, "{}"),
    ]:
        assembler.add(delta)

    assert assembler.calls() == [ToolCall("id0", "a", "{}"), ToolCall("call_1", "b", '{"x": 1}')]


async def test_request_carries_params_tools_and_thinking_extra_body(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    params = ChatParams(
        model="fake-model",
        temperature=0.2,
        max_tokens=64,
        thinking=True,
        tools=[ToolSpec("now", "Current time")],
        tool_choice="auto",
        extra_body={"top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 100}},
    )
    history = [
        ChatMessage("user", "time?"),
        ChatMessage("assistant", None, tool_calls=[ToolCall("c1", "now", "{}")]),
        ChatMessage("tool", "12:00", tool_call_id="c1"),
    ]

    await make_model().chat(history, params)

    sent = fake.requests[0]
    assert sent["enable_thinking"] is True
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 100}  # caller's value wins
    assert sent["top_k"] == 5
    assert (sent["temperature"], sent["max_tokens"], sent["tool_choice"]) == (0.2, 64, "auto")
    assert sent["tools"][0]["function"]["name"] == "now"
    assert sent["messages"][1]["tool_calls"][0]["function"] == {"name": "now", "arguments": "{}"}
    assert sent["messages"][2] == {"role": "tool", "content": "12:00", "tool_call_id": "c1"}


async def test_thinking_off_sends_no_extra_fields(make_model: ModelFactory, fake: FakeLLM) -> None:
    await make_model().chat(HELLO, PARAMS)

    assert set(fake.requests[0]) == {"model", "messages", "stream"}


async def test_retry_after_429_honours_retry_after_before_first_token(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([{"fault": "429", "retry_after": 0.2}, {"content": "finally"}])
    model = make_model(backoff_max_s=2.0)

    started = time.perf_counter()
    deltas = await collect(model.stream(HELLO, PARAMS))

    assert text_of(deltas) == "finally"
    assert time.perf_counter() - started >= 0.2
    assert len(fake.requests) == 2


async def test_retry_after_is_capped_by_backoff_max(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([{"fault": "429", "retry_after": 30}, {"content": "ok"}])

    started = time.perf_counter()
    result = await make_model(backoff_max_s=0.05).chat(HELLO, PARAMS)

    assert result.text == "ok"
    assert time.perf_counter() - started < 2


async def test_retry_after_500_before_first_token(make_model: ModelFactory, fake: FakeLLM) -> None:
    fake.script([{"fault": "500", "times": 2}, {"content": "recovered"}])

    deltas = await collect(make_model().stream(HELLO, PARAMS))

    assert text_of(deltas) == "recovered"
    assert len(fake.requests) == 3


async def test_retry_after_connection_drop_before_any_output(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([{"fault": "drop", "drop_after": 0}, {"content": "ok"}, {"fault": "drop"}])

    stream_text = text_of(await collect(make_model().stream(HELLO, PARAMS)))
    chat_text = (await make_model().chat(HELLO, PARAMS)).text  # non-stream drop is retried

    assert (stream_text, chat_text) == ("ok", "echo: hello")
    assert len(fake.requests) == 4


async def test_gives_up_after_max_retries(make_model: ModelFactory, fake: FakeLLM) -> None:
    fake.script([{"fault": "500", "times": 5}])

    with pytest.raises(LLMError) as caught:
        await make_model(max_retries=2).chat(HELLO, PARAMS)

    assert caught.value.code == "LLM_PROVIDER_ERROR"
    assert caught.value.status == 502
    assert isinstance(caught.value, UpstreamError)
    assert len(fake.requests) == 3


async def test_rate_limit_after_retries_is_429(make_model: ModelFactory, fake: FakeLLM) -> None:
    fake.script([{"fault": "429", "times": 2}])

    with pytest.raises(LLMError) as caught:
        await make_model(max_retries=1).chat(HELLO, PARAMS)

    assert (caught.value.code, caught.value.status) == ("LLM_RATE_LIMITED", 429)
    assert isinstance(caught.value, TooManyRequests)


async def test_no_retry_once_a_delta_was_yielded(make_model: ModelFactory, fake: FakeLLM) -> None:
    fake.script([{"content": "abcdefghijkl", "fault": "drop", "drop_after": 2}, {"content": "x"}])
    received: list[StreamDelta] = []

    with pytest.raises(LLMError) as caught:
        async for delta in make_model().stream(HELLO, PARAMS):
            received.append(delta)

    assert caught.value.code == "LLM_STREAM_INTERRUPTED"
    assert caught.value.status == 502
    assert text_of(received) == "abcdefgh"
    assert len(fake.requests) == 1


async def test_clean_end_without_finish_is_interrupted_not_complete(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([{"content": "abcdefgh", "fault": "truncate", "drop_after": 1}])

    with pytest.raises(LLMError) as caught:
        await collect(make_model().stream(HELLO, PARAMS))

    assert caught.value.code == "LLM_STREAM_INTERRUPTED"
    assert len(fake.requests) == 1


async def test_bad_api_key_is_auth_failed_without_the_key(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    wrong_key = "sk-wrong-0123456789abcdef"

    for call in (
        lambda m: m.chat(HELLO, PARAMS),
        lambda m: collect(m.stream(HELLO, PARAMS)),
    ):
        with pytest.raises(LLMError) as caught:
            await call(make_model(api_key=wrong_key))
        error = caught.value
        assert (error.code, error.status) == ("LLM_AUTH_FAILED", 502)
        assert "API key" in error.message
        for text in (str(error), repr(error), repr(error.details), repr(error.__cause__)):
            assert wrong_key not in text and RUNTIME_KEY not in text
    assert len(fake.requests) == 2  # auth failures are not retried


async def test_unknown_model_is_model_not_found() -> None:
    async with FakeLLM(models=["only-this"]) as fake:
        from tiangong.runtime.llm import OpenAICompatibleModel

        async with OpenAICompatibleModel(fake.base_url, "k", max_retries=0) as model:
            with pytest.raises(LLMError) as caught:
                await model.chat(HELLO, ChatParams(model="nope"))
            ok = await model.chat(HELLO, ChatParams(model="only-this"))

    assert caught.value.code == "LLM_MODEL_NOT_FOUND"
    assert "nope" in caught.value.message
    assert ok.text == "echo: hello"


async def test_bad_request_includes_provider_message(make_model: ModelFactory) -> None:
    with pytest.raises(LLMError) as caught:
        await make_model().chat([], PARAMS)

    assert (caught.value.code, caught.value.status) == ("LLM_BAD_REQUEST", 400)
    assert "`messages` must be a non-empty list" in caught.value.message


def test_provider_messages_are_scrubbed_of_the_key() -> None:
    key = "sk-mine-abcdefgh12345678"
    request = httpx2.Request("POST", "http://provider/v1/chat/completions")
    response = httpx2.Response(400, request=request)
    body = {"message": f"bad header Bearer {key}; also sk-other-0000000000000 and {key}"}
    exc = openai.BadRequestError("Error code: 400", response=response, body=body)

    error = map_error(exc, key)

    assert error.code == "LLM_BAD_REQUEST"
    assert key not in error.message and "sk-other" not in error.message
    assert "bad header" in error.message


async def test_connection_refused_is_unreachable(make_model: ModelFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = make_model(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)

    with pytest.raises(LLMError) as caught:
        await collect(model.stream(HELLO, PARAMS))

    assert (caught.value.code, caught.value.status) == ("LLM_UNREACHABLE", 502)


async def test_no_answer_in_time_is_timeout(make_model: ModelFactory, fake: FakeLLM) -> None:
    fake.script([{"fault": "hang", "times": 2}])
    model = make_model(timeout_s=0.2, max_retries=0)

    for call in (model.chat(HELLO, PARAMS), collect(model.stream(HELLO, PARAMS))):
        with pytest.raises(LLMError) as caught:
            await call
        assert (caught.value.code, caught.value.status) == ("LLM_TIMEOUT", 504)
    assert len(fake.requests) == 2


async def test_timeout_is_retried_before_first_token(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([{"fault": "hang"}, {"content": "late but fine"}])

    result = await make_model(timeout_s=0.2, max_retries=1).chat(HELLO, PARAMS)

    assert result.text == "late but fine"


async def test_stall_after_first_token_is_interrupted(
    make_model: ModelFactory, fake: FakeLLM
) -> None:
    fake.script([{"content": "abcdefgh", "delay_ms": 1000}])

    with pytest.raises(LLMError) as caught:
        await collect(make_model(timeout_s=0.2).stream(HELLO, PARAMS))

    assert caught.value.code == "LLM_STREAM_INTERRUPTED"
    assert len(fake.requests) == 1


async def test_on_call_records_tokens_ttft_and_outcome(
    make_model: ModelFactory, fake: FakeLLM, calls: list[LLMCallRecord]
) -> None:
    usage = {"prompt_tokens": 9, "completion_tokens": 4, "reasoning_tokens": 2}
    fake.script([{"content": "abcd", "first_token_delay_ms": 60, "usage": usage}, {"fault": "500"}])
    model = make_model(max_retries=0)

    await collect(model.stream(HELLO, PARAMS))
    with pytest.raises(LLMError):
        await model.chat(HELLO, PARAMS)

    ok, failed = calls
    assert (ok.model, ok.outcome, ok.error_code) == ("fake-model", "ok", None)
    assert (ok.prompt_tokens, ok.completion_tokens, ok.reasoning_tokens) == (9, 4, 2)
    assert ok.ttft_ms is not None and 60 <= ok.ttft_ms <= ok.latency_ms
    assert (failed.outcome, failed.error_code, failed.ttft_ms) == (
        "error",
        "LLM_PROVIDER_ERROR",
        None,
    )


async def test_consumer_closing_the_stream_is_recorded_as_cancelled(
    make_model: ModelFactory, fake: FakeLLM, calls: list[LLMCallRecord]
) -> None:
    fake.script([{"content": "a long answer", "chunk_size": 1, "delay_ms": 5}])

    async with aclosing(make_model().stream(HELLO, PARAMS)) as stream:
        async for _ in stream:
            break
    for _ in range(100):
        if calls:
            break
        await asyncio.sleep(0.01)

    assert [c.outcome for c in calls] == ["cancelled"]


async def test_failing_call_log_callback_does_not_fail_the_call(
    make_model: ModelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(record: LLMCallRecord) -> None:
        raise RuntimeError("log store down")

    result = await make_model(on_call=broken).chat(HELLO, PARAMS)

    assert result.text == "echo: hello"
    assert "call-log callback failed" in caplog.text


def _sse_server(body: str) -> LoopbackServer:
    async def completions(request: Request) -> Response:
        return Response(body, media_type="text/event-stream")

    return LoopbackServer([Route("/v1/chat/completions", completions, methods=["POST"])]).start()


def _chunk(content: str) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": content}}]})


@pytest.mark.parametrize(
    ("tail", "code"),
    [
        (
            'data: {"error": {"message": "overloaded sk-abcdefgh12345678"}}\n\n',
            "LLM_PROVIDER_ERROR",
        ),
        ("data: {not json\n\n", "LLM_PROVIDER_ERROR"),
        ("data: [1, 2]\n\n", "LLM_PROVIDER_ERROR"),
    ],
)
async def test_error_or_malformed_chunk_mid_stream_fails_cleanly(tail: str, code: str) -> None:
    server = _sse_server(f": keep-alive\n\nevent: message\ndata: {_chunk('ab')}\n\n{tail}")
    received: list[StreamDelta] = []
    try:
        model = OpenAICompatibleModel(f"{server.url}/v1", "sk-test-key", max_retries=0)
        with pytest.raises(LLMError) as caught:
            async for delta in model.stream(HELLO, PARAMS):
                received.append(delta)
    finally:
        server.stop()
    assert caught.value.code == code
    assert "abcdefgh12345678" not in caught.value.message
    assert text_of(received) == "ab"


async def test_multi_line_data_and_missing_done_still_parse() -> None:
    finish = json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    split = _chunk("cd").replace(", ", ",\ndata: ", 1)
    server = _sse_server(f"data: {_chunk('ab')}\n\ndata: {split}\n\ndata: {finish}")
    try:
        model = OpenAICompatibleModel(f"{server.url}/v1", "sk-test-key", max_retries=0)
        deltas = await collect(model.stream(HELLO, PARAMS))
    finally:
        server.stop()
    assert text_of(deltas) == "abcd"
    assert isinstance(deltas[-1], FinishDelta)
