"""Rerank models behind an HTTP `/rerank` endpoint (Jina, Cohere, and OpenAI-compatible servers
such as vLLM, Xinference or SiliconFlow). The platform injects the HTTP call, so it decides the
client, proxies and SSRF rules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol

from tiangong.errors import AppError
from tiangong.runtime.llm.errors import scrub
from tiangong.runtime.rag.errors import RerankFailed
from tiangong.runtime.rag.types import ScoredId

# (url, JSON body, headers) -> parsed JSON response
PostJson = Callable[[str, dict[str, Any], dict[str, str]], Awaitable[dict[str, Any]]]
RerankStyle = Literal["jina", "cohere", "openai"]


class Reranker(Protocol):
    @property
    def model(self) -> str: ...

    async def rerank(
        self, query: str, candidates: Sequence[tuple[str, str]], top_n: int | None = None
    ) -> list[ScoredId]:
        """Reorders (id, text) candidates by relevance to `query`, best first; at most
        `top_n` (all when None). Scores are the model's relevance scores."""
        ...


class HttpReranker:
    """POSTs `{model, query, documents, top_n}` to `{base_url}/rerank` and reads
    `results: [{index, relevance_score}]`. OpenAI-compatible servers may answer with
    `data` and `score` instead; both spellings are accepted for that style."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        style: RerankStyle = "jina",
        *,
        post_json: PostJson,
    ) -> None:
        self._url = base_url.rstrip("/") + "/rerank"
        self._api_key = api_key
        self._model = model
        self._style = style
        self._post_json = post_json

    @property
    def model(self) -> str:
        return self._model

    async def rerank(
        self, query: str, candidates: Sequence[tuple[str, str]], top_n: int | None = None
    ) -> list[ScoredId]:
        if not candidates:
            return []
        n = len(candidates) if top_n is None else max(0, min(top_n, len(candidates)))
        if n == 0:
            return []
        body: dict[str, Any] = {
            "model": self._model,
            "query": query,
            "documents": [text for _, text in candidates],
            "top_n": n,
        }
        if self._style == "jina":
            body["return_documents"] = False
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            response = await self._post_json(self._url, body, headers)
        except AppError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the injected client raises
            detail = scrub(f"{type(exc).__name__}: {exc}", self._api_key)
            raise RerankFailed(f"The rerank call failed: {detail[:300]}") from None
        return self._parse(response, candidates)[:n]

    def _parse(self, response: Any, candidates: Sequence[tuple[str, str]]) -> list[ScoredId]:
        results = response.get("results") if isinstance(response, dict) else None
        if results is None and self._style == "openai" and isinstance(response, dict):
            results = response.get("data")
        if not isinstance(results, list):
            raise RerankFailed("The rerank provider sent a malformed response (no results).")
        scored: dict[int, float] = {}
        for item in results:
            index = item.get("index") if isinstance(item, dict) else None
            score = item.get("relevance_score") if isinstance(item, dict) else None
            if score is None and self._style == "openai" and isinstance(item, dict):
                score = item.get("score")
            if (
                not isinstance(index, int)
                or isinstance(index, bool)
                or not 0 <= index < len(candidates)
                or not isinstance(score, int | float)
            ):
                raise RerankFailed("The rerank provider sent a malformed result.")
            scored[index] = float(score)
        order = sorted(scored, key=lambda i: (-scored[i], i))
        return [ScoredId(candidates[i][0], scored[i]) for i in order]
