"""The fake LLM speaks the OpenAI wire format and obeys its script."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.runtime.conftest import RUNTIME_KEY
from tiangong.testing.fake_llm import FakeLLM, embed_text

REPO = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {RUNTIME_KEY}"}


@pytest.fixture
async def http(fake: FakeLLM) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url, headers=AUTH, timeout=5) as client:
        yield client


def chat_body(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "fake-model", "messages": [{"role": "user", "content": text}], **extra}


async def sse_events(http: httpx.AsyncClient, body: dict[str, Any]) -> list[str]:
    response = await http.post("/v1/chat/completions", json={**body, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("\n\n")
    return [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]


async def test_non_stream_reply_has_openai_shape(http: httpx.AsyncClient, fake: FakeLLM) -> None:
    fake.script([{"content": "Hi!", "reasoning": "hm"}])

    response = await http.post("/v1/chat/completions", json=chat_body())

    data = response.json()
    assert data["object"] == "chat.completion"
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Hi!", "reasoning_content": "hm"}
    assert choice["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_stream_chunks_then_usage_then_done(http: httpx.AsyncClient, fake: FakeLLM) -> None:
    fake.script([{"content": "abcdefg", "chunk_size": 3}])

    events = await sse_events(http, chat_body(stream_options={"include_usage": True}))

    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert [d.get("content") for d in deltas] == ["", "abc", "def", "g", None]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


async def test_stream_has_no_usage_chunk_unless_asked(
    http: httpx.AsyncClient, fake: FakeLLM
) -> None:
    events = await sse_events(http, chat_body())

    assert all(json.loads(e)["choices"] for e in events[:-1])


async def test_tool_calls_stream_as_fragments(http: httpx.AsyncClient, fake: FakeLLM) -> None:
    fake.script([{"tool_calls": [{"id": "c9", "name": "f", "arguments": '{"a": 12345}'}]}])

    events = await sse_events(http, chat_body())

    calls = [json.loads(e)["choices"][0]["delta"].get("tool_calls") for e in events[:-1]]
    fragments = [c[0] for c in calls if c]
    assert fragments[0] == {
        "index": 0,
        "id": "c9",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    assert len(fragments) > 2
    assert "".join(f["function"]["arguments"] for f in fragments) == '{"a": 12345}'
    assert json.loads(events[-2])["choices"][0]["finish_reason"] == "tool_calls"


async def test_empty_queue_echoes_last_user_message(http: httpx.AsyncClient, fake: FakeLLM) -> None:
    body = chat_body()
    body["messages"] += [
        {"role": "assistant", "content": "earlier"},
        {"role": "user", "content": [{"type": "text", "text": "latest"}]},
    ]

    response = await http.post("/v1/chat/completions", json=body)

    assert response.json()["choices"][0]["message"]["content"] == "echo: latest"


async def test_replies_route_by_match_and_serve_times(
    http: httpx.AsyncClient, fake: FakeLLM
) -> None:
    fake.script([{"content": "for B", "match": "bob"}, {"content": "twice", "times": 2}])

    async def ask(text: str) -> str:
        response = await http.post("/v1/chat/completions", json=chat_body(text))
        return str(response.json()["choices"][0]["message"]["content"])

    answers = [await ask("alice"), await ask("hi bob"), await ask("carol"), await ask("dan")]

    assert answers == ["twice", "for B", "twice", "echo: dan"]


async def test_429_and_500_faults_look_like_openai(http: httpx.AsyncClient, fake: FakeLLM) -> None:
    fake.script([{"fault": 429, "retry_after": 2}, {"fault": "500"}])

    limited = await http.post("/v1/chat/completions", json=chat_body())
    failed = await http.post("/v1/chat/completions", json=chat_body())

    assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert failed.status_code == 500
    assert failed.json()["error"]["type"] == "server_error"


async def test_drop_cuts_the_connection_without_done(
    http: httpx.AsyncClient, fake: FakeLLM
) -> None:
    fake.script([{"content": "abcdefghijkl", "fault": "drop", "drop_after": 1}])
    received = b""

    with pytest.raises(httpx.RemoteProtocolError):
        async with http.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as r:
            async for part in r.aiter_bytes():
                received += part

    assert b'"abcd"' in received and b'"efgh"' not in received
    assert b"[DONE]" not in received


async def test_hang_never_answers(http: httpx.AsyncClient, fake: FakeLLM) -> None:
    fake.script([{"fault": "hang"}])

    with pytest.raises(httpx.ReadTimeout):
        await http.post("/v1/chat/completions", json=chat_body(), timeout=0.2)


async def test_wrong_key_gets_openai_style_401(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/chat/completions", json=chat_body(), headers={"Authorization": "Bearer nope"}
    )

    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_api_key")
    assert "message" in error


async def test_model_list_restricts_names() -> None:
    async with FakeLLM(models=["a", "b"]) as fake, httpx.AsyncClient(base_url=fake.url) as http:
        listed = await http.get("/v1/models")
        known = await http.post("/v1/chat/completions", json={**chat_body(), "model": "b"})
        unknown = await http.post("/v1/chat/completions", json={**chat_body(), "model": "c"})

    assert [m["id"] for m in listed.json()["data"]] == ["a", "b"]
    assert known.status_code == 200
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"


async def test_control_endpoints_script_reset_and_list_requests(
    http: httpx.AsyncClient, fake: FakeLLM
) -> None:
    scripted = await http.post("/_script", json={"replies": [{"content": "via http"}]})
    await http.post("/v1/chat/completions", json=chat_body("one", extra_field=1))
    listed = await http.get("/_requests")
    bad = await http.post("/_script", json=[{"contnet": "typo"}])
    await http.post("/_script", json=[{"content": "queued"}])
    await http.post("/_reset")
    after_reset = await http.post("/v1/chat/completions", json=chat_body("two"))

    assert scripted.status_code == 200
    assert listed.json()[0]["extra_field"] == 1
    assert bad.status_code == 400 and "contnet" in bad.json()["error"]["message"]
    assert after_reset.json()["choices"][0]["message"]["content"] == "echo: two"
    assert len(fake.requests) == 1


async def test_embeddings_are_deterministic_unit_vectors(
    http: httpx.AsyncClient, fake: FakeLLM
) -> None:
    body = {"model": "emb", "input": ["天宫", "hello"]}

    first = (await http.post("/v1/embeddings", json=body)).json()
    again = (await http.post("/v1/embeddings", json={**body, "input": "天宫"})).json()
    small = (await http.post("/v1/embeddings", json={**body, "dimensions": 8})).json()

    vectors = [d["embedding"] for d in first["data"]]
    assert [len(v) for v in vectors] == [384, 384]
    assert vectors[0] == again["data"][0]["embedding"] == embed_text("天宫")
    assert vectors[0] != vectors[1]
    assert math.isclose(sum(x * x for x in vectors[0]), 1.0)
    assert len(small["data"][0]["embedding"]) == 8
    assert fake.embedding_requests[0]["input"] == ["天宫", "hello"]


async def test_embeddings_through_the_sdk_use_base64(fake: FakeLLM) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=RUNTIME_KEY) as client:
        result = await client.embeddings.create(model="emb", input=["x"], dimensions=16)

    assert fake.embedding_requests[0]["encoding_format"] == "base64"
    got = result.data[0].embedding
    assert got == pytest.approx(embed_text("x", 16), rel=1e-6)


def test_fake_starts_fast_and_stops() -> None:
    started = time.perf_counter()
    fake = FakeLLM().start()
    elapsed = time.perf_counter() - started
    try:
        assert httpx.get(f"{fake.base_url}/models").status_code == 200
    finally:
        fake.stop()

    assert elapsed < 1.0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{fake.base_url}/models")


def test_runs_as_a_module_on_the_given_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tiangong.testing.fake_llm", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        models = None
        for _ in range(100):
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models")
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.communicate()[1]
                time.sleep(0.05)
        assert models is not None and models.status_code == 200
        assert models.json()["data"][0]["id"] == "fake-model"
    finally:
        process.terminate()
        process.wait(timeout=5)
    assert process.returncode is not None
