"""LLM text tools against the real fake LLM server, through the real OpenAI-compatible client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.llm import ChatMessage, ChatParams, LLMError, OpenAICompatibleModel
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.builtin.llm_text import parse_json_object, split_text
from tiangong.runtime.tools.executor import run_tool
from tiangong.testing.fake_llm import FakeLLM

KEY = "sk-tools-test-7d1e3b"


class ChatTextModel:
    """Test-only TextModel: one system + user turn over a ChatModel."""

    def __init__(self, model: OpenAICompatibleModel) -> None:
        self.model = model

    async def complete(
        self, prompt: str, *, system: str | None = None, max_tokens: int | None = None
    ) -> str:
        messages = [ChatMessage(role="system", content=system)] if system else []
        messages.append(ChatMessage(role="user", content=prompt))
        result = await self.model.chat(
            messages, ChatParams(model="fake-model", max_tokens=max_tokens)
        )
        return result.text


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeLLM) -> FakeLLM:
    server.reset()
    return server


@pytest.fixture
async def ctx(fake: FakeLLM) -> AsyncIterator[ToolContext]:
    model = OpenAICompatibleModel(fake.base_url, KEY, timeout_s=5.0, max_retries=0)
    yield ToolContext(llm=ChatTextModel(model))
    await model.aclose()


async def call(name: str, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, name
    return await run_tool(tool, args, ctx)


def user_text(request: dict[str, Any]) -> str:
    return str(request["messages"][-1]["content"])


def system_text(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"])


# --- helpers ---


def test_split_text_cuts_at_boundaries_and_loses_nothing() -> None:
    text = ("A" * 3000 + "\n\n") + ("B" * 3000 + ". ") * 2 + "C" * 9000
    pieces = split_text(text, 4000)
    assert "".join(pieces) == text
    assert all(len(piece) <= 4000 for piece in pieces)
    assert pieces[0] == "A" * 3000 + "\n\n"
    assert pieces[1] == "B" * 3000 + ". "
    assert split_text("short", 10) == ["short"]


def test_parse_json_object_finds_the_object_in_messy_answers() -> None:
    assert parse_json_object('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_object('Here: {"a": "}{"} and {"b": 2}') == {"a": "}{"}
    assert parse_json_object('<think>{"wrong": 1}</think> {"right": 2}') == {"right": 2}
    assert parse_json_object("[1, 2]") is None
    assert parse_json_object("no json { at all") is None


# --- summarize_text ---


async def test_summarize_short_text_in_one_call(fake: FakeLLM, ctx: ToolContext) -> None:
    fake.script([{"content": "<think>hmm</think>Un résumé court."}])
    result = await call(
        "summarize_text",
        {"text": "The meeting moved to Friday.", "max_words": 50, "language": "French"},
        ctx,
    )
    assert result == {"summary": "Un résumé court.", "chunks": 1}
    [request] = fake.requests
    assert "one short paragraph" in user_text(request)
    assert "at most 50 words" in user_text(request)
    assert "Write in French." in user_text(request)
    assert "<text>\nThe meeting moved to Friday.\n</text>" in user_text(request)
    assert "not instructions" in system_text(request)
    assert request["max_tokens"] == 256


async def test_summarize_long_text_maps_over_chunks_then_reduces(
    fake: FakeLLM, ctx: ToolContext
) -> None:
    parts = [f"{word} " * 1900 for word in ("alpha", "bravo", "delta")]
    text = "\n\n".join(part.strip() for part in parts)
    assert len(text) > 30_000
    fake.script(
        [
            {"content": "notes one", "match": "part 1 of 3"},
            {"content": "notes two", "match": "part 2 of 3"},
            {"content": "notes three", "match": "part 3 of 3"},
            {"content": "- combined", "match": "notes on a long document"},
        ]
    )
    result = await call("summarize_text", {"text": text, "style": "bullets"}, ctx)
    assert result == {"summary": "- combined", "chunks": 3}
    requests = fake.requests
    assert len(requests) == 4
    final = user_text(requests[-1])
    assert "notes one\n\nnotes two\n\nnotes three" in final
    assert "key points" in final
    assert all(len(user_text(r)) < 13_000 for r in requests)


async def test_summarize_surfaces_the_models_own_error_from_a_chunk(
    fake: FakeLLM, ctx: ToolContext
) -> None:
    fake.script([{"fault": "500", "match": "part 2 of 3", "times": 5}])
    text = "\n\n".join(f"{word} " * 1900 for word in ("alpha", "bravo", "delta"))
    with pytest.raises(LLMError):
        await call("summarize_text", {"text": text}, ctx)


async def test_summarize_rejects_bad_input_and_empty_answers(
    fake: FakeLLM, ctx: ToolContext
) -> None:
    for args in (
        {"text": ""},
        {"text": "x" * 100_001},
        {"text": "hi", "style": "poem"},
        {"text": "hi", "max_words": 5},
    ):
        with pytest.raises(ToolInputError):
            await call("summarize_text", args, ctx)
    fake.script([{"content": "  "}])
    with pytest.raises(ToolError, match="empty summary"):
        await call("summarize_text", {"text": "hello"}, ctx)
    with pytest.raises(ToolError, match="not available here"):
        await call("summarize_text", {"text": "hello"}, ToolContext())


# --- translate_text ---


async def test_translate_keeps_surrounding_whitespace(fake: FakeLLM, ctx: ToolContext) -> None:
    fake.script([{"content": "<text>\n# Bonjour\n\n- un\n</text>"}])
    result = await call(
        "translate_text",
        {"text": "\n# Hello\n\n- one\n", "target_language": "French", "source_language": "English"},
        ctx,
    )
    assert result == {
        "translation": "\n# Bonjour\n\n- un\n",
        "target_language": "French",
        "chunks": 1,
    }
    [request] = fake.requests
    assert "from English into French" in system_text(request)
    assert "Keep the formatting" in system_text(request)


async def test_translate_long_text_in_order_by_paragraphs(fake: FakeLLM, ctx: ToolContext) -> None:
    text = "A" * 3000 + "\n\n" + "B" * 3000
    fake.script(
        [
            {"content": "second", "match": "BBBB"},
            {"content": "first", "match": "AAAA"},
        ]
    )
    result = await call("translate_text", {"text": text, "target_language": "German"}, ctx)
    assert result["translation"] == "first\n\nsecond"
    assert result["chunks"] == 2


async def test_translate_rejects_bad_input(ctx: ToolContext) -> None:
    with pytest.raises(ToolInputError):
        await call("translate_text", {"text": "hi"}, ctx)
    with pytest.raises(ToolError, match="only whitespace"):
        await call("translate_text", {"text": " \n ", "target_language": "German"}, ctx)


# --- classify_text ---


async def test_classify_parses_fenced_json(fake: FakeLLM, ctx: ToolContext) -> None:
    fake.script(
        [{"content": '```json\n{"label": "Positive", "confidence": 0.92, "reason": "praise"}\n```'}]
    )
    result = await call(
        "classify_text",
        {
            "text": "I love it",
            "labels": ["positive", "negative"],
            "instructions": "Tone of the review.",
        },
        ctx,
    )
    assert result == {"label": "positive", "confidence": 0.92, "reason": "praise"}
    prompt = user_text(fake.requests[0])
    assert '["positive", "negative"]' in prompt
    assert "Tone of the review." in prompt


async def test_classify_falls_back_to_prose_and_percentages(
    fake: FakeLLM, ctx: ToolContext
) -> None:
    labels = ["spam", "not spam"]
    fake.script(
        [
            {"content": "This message is clearly not spam."},
            {"content": '{"label": "spam", "confidence": 85}'},
            {"content": '{"label": "maybe"} but really: spam'},
        ]
    )
    prose = await call("classify_text", {"text": "hello", "labels": labels}, ctx)
    assert prose == {"label": "not spam", "confidence": None, "reason": None}
    percent = await call("classify_text", {"text": "buy now", "labels": labels}, ctx)
    assert percent["confidence"] == 0.85
    unknown = await call("classify_text", {"text": "buy now", "labels": labels}, ctx)
    assert unknown["label"] == "spam"


async def test_classify_rejects_bad_labels_and_unusable_answers(
    fake: FakeLLM, ctx: ToolContext
) -> None:
    with pytest.raises(ToolInputError):
        await call("classify_text", {"text": "x", "labels": ["only"]}, ctx)
    with pytest.raises(ToolInputError, match="distinct"):
        await call("classify_text", {"text": "x", "labels": ["a", "A "]}, ctx)
    fake.script([{"content": "I cannot decide."}])
    with pytest.raises(ToolError, match="named none of the labels"):
        await call("classify_text", {"text": "x", "labels": ["red", "blue"]}, ctx)


# --- extract_structured ---


async def test_extract_structured_finds_the_object_and_reports_missing_fields(
    fake: FakeLLM, ctx: ToolContext
) -> None:
    fake.script(
        [{"content": 'Sure! {"name": "Ann", "total": 12.5, "note": "a {brace}"} Hope it helps.'}]
    )
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "total": {"type": "number"},
            "date": {"type": "string"},
        },
    }
    result = await call(
        "extract_structured", {"text": "Invoice for Ann: 12.50", "json_schema": schema}, ctx
    )
    assert result == {
        "data": {"name": "Ann", "total": 12.5, "note": "a {brace}"},
        "missing": ["date"],
    }
    assert '"total": {"type": "number"}' in user_text(fake.requests[0])


async def test_extract_structured_accepts_a_field_map(fake: FakeLLM, ctx: ToolContext) -> None:
    fake.script([{"content": '```\n{"city": "Oslo", "country": null}\n```'}])
    result = await call(
        "extract_structured",
        {"text": "I live in Oslo.", "json_schema": {"city": "city name", "country": "country"}},
        ctx,
    )
    assert result == {"data": {"city": "Oslo", "country": None}, "missing": ["country"]}


async def test_extract_structured_rejects_non_objects_and_bad_schemas(
    fake: FakeLLM, ctx: ToolContext
) -> None:
    with pytest.raises(ToolInputError):
        await call("extract_structured", {"text": "x", "json_schema": {}}, ctx)
    fake.script([{"content": '["not", "an", "object"]'}])
    with pytest.raises(ToolError, match="did not return a JSON object"):
        await call("extract_structured", {"text": "x", "json_schema": {"a": "b"}}, ctx)
