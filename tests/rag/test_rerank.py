"""HttpReranker: request shape per style, reordering, and clear failures."""

from __future__ import annotations

from typing import Any

import pytest

from tiangong.errors import UpstreamError
from tiangong.runtime.rag.errors import RerankFailed
from tiangong.runtime.rag.rerank import HttpReranker, Reranker
from tiangong.runtime.rag.types import ScoredId

CANDIDATES = [("c1", "apples are red"), ("c2", "the sky is blue"), ("c3", "red apple pie")]


class FakePost:
    def __init__(self, response: Any = None, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.response = response
        self.error = error

    async def __call__(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        self.calls.append((url, body, headers))
        if self.error is not None:
            raise self.error
        return self.response


async def test_jina_style_request_and_reordered_results() -> None:
    post = FakePost(
        {"results": [{"index": 2, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.7}]}
    )
    reranker: Reranker = HttpReranker(
        "https://api.example.com/v1/", "sk-rerank-secret", "jina-reranker-v2", post_json=post
    )
    hits = await reranker.rerank("red apples", CANDIDATES, top_n=2)
    assert hits == [ScoredId("c3", 0.9), ScoredId("c1", 0.7)]
    ((url, body, headers),) = post.calls
    assert url == "https://api.example.com/v1/rerank"
    assert body == {
        "model": "jina-reranker-v2",
        "query": "red apples",
        "documents": ["apples are red", "the sky is blue", "red apple pie"],
        "top_n": 2,
        "return_documents": False,
    }
    assert headers["Authorization"] == "Bearer sk-rerank-secret"


async def test_cohere_style_sorts_by_score_and_caps_top_n() -> None:
    results = [
        {"index": 0, "relevance_score": 0.2},
        {"index": 1, "relevance_score": 0.05},
        {"index": 2, "relevance_score": 0.8},
    ]
    post = FakePost({"id": "x", "results": results, "meta": {}})
    reranker = HttpReranker("http://rr", "", "rerank-v3.5", "cohere", post_json=post)
    hits = await reranker.rerank("q", CANDIDATES, top_n=10)
    assert [h.id for h in hits] == ["c3", "c1", "c2"]
    body, headers = post.calls[0][1], post.calls[0][2]
    assert body["top_n"] == 3
    assert "return_documents" not in body
    assert "Authorization" not in headers


async def test_openai_compatible_style_accepts_data_and_score() -> None:
    post = FakePost({"data": [{"index": 1, "score": 3.5}, {"index": 0, "score": -1.0}]})
    reranker = HttpReranker("http://vllm/v1", "k", "bge-reranker", "openai", post_json=post)
    assert [h.id for h in await reranker.rerank("sky", CANDIDATES)] == ["c2", "c1"]


async def test_no_candidates_makes_no_call() -> None:
    post = FakePost({"results": []})
    reranker = HttpReranker("http://rr", "k", "m", post_json=post)
    assert await reranker.rerank("q", []) == []
    assert post.calls == []


@pytest.mark.parametrize(
    "response",
    [
        {"error": "bad"},
        {"results": [{"index": 5, "relevance_score": 0.1}]},
        {"results": [{"index": 0}]},
        {"results": [{"index": True, "relevance_score": 0.1}]},
        ["not", "a", "dict"],
    ],
)
async def test_malformed_responses_fail_clearly(response: Any) -> None:
    reranker = HttpReranker("http://rr", "k", "m", post_json=FakePost(response))
    with pytest.raises(RerankFailed) as caught:
        await reranker.rerank("q", CANDIDATES)
    assert caught.value.code == "RERANK_FAILED"


async def test_transport_errors_are_wrapped_without_the_key() -> None:
    error = ConnectionError("refused; sent Bearer sk-rerank-secret-123456")
    reranker = HttpReranker(
        "http://rr", "sk-rerank-secret-123456", "m", post_json=FakePost(error=error)
    )
    with pytest.raises(RerankFailed) as caught:
        await reranker.rerank("q", CANDIDATES)
    assert "sk-rerank-secret" not in caught.value.message
    assert "ConnectionError" in caught.value.message


async def test_platform_errors_pass_through() -> None:
    error = UpstreamError("blocked by SSRF policy", code="URL_NOT_ALLOWED")
    reranker = HttpReranker("http://10.0.0.1", "k", "m", post_json=FakePost(error=error))
    with pytest.raises(UpstreamError) as caught:
        await reranker.rerank("q", CANDIDATES)
    assert caught.value.code == "URL_NOT_ALLOWED"
