"""`ChatModel` over any OpenAI-compatible endpoint, with our own retries and call log."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionMessageFunctionToolCall
from pydantic import BaseModel

from tiangong.runtime.llm.errors import (
    LLMError,
    LLMProviderError,
    LLMStreamInterrupted,
    is_retryable,
    map_error,
)
from tiangong.runtime.llm.pool import HttpFactory, shared_client
from tiangong.runtime.llm.sse import chunk_deltas, chunk_usage, chunks, open_stream, stream_body
from tiangong.runtime.llm.types import (
    ChatMessage,
    ChatParams,
    ChatResult,
    FinishDelta,
    LLMCallRecord,
    Outcome,
    StreamDelta,
    ToolCall,
    Usage,
    UsageDelta,
)

logger = logging.getLogger(__name__)

OnCall = Callable[[LLMCallRecord], Awaitable[None]]
# vet(url) -> the address to dial for url's host, checked now; raises LLMError to refuse it.
Vet = Callable[[str], Awaitable[str]]
_T = TypeVar("_T")
_U = TypeVar("_U", bound=Usage)
_rng = random.SystemRandom()

# Understood by Qwen/DashScope (enable_thinking) and DeepSeek/Anthropic-style servers (thinking).
_THINKING_BODY: dict[str, Any] = {"enable_thinking": True, "thinking": {"type": "enabled"}}


class _Truncated(Exception):
    """The stream ended cleanly but without a finish reason: output is missing."""


class OpenAICompatibleModel:
    """A `ChatModel` for one endpoint and key.

    `timeout_s` bounds each wait for the provider (the first byte, then every gap between
    stream chunks), not the whole call. Retries cover 429, 5xx, connection failures and
    timeouts, and only until the first delta of a stream has been yielded.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        on_call: OnCall | None = None,
        vet: Vet | None = None,
        http: HttpFactory | None = None,
    ) -> None:
        """`vet`: asked before every attempt, so where the URL leads is checked when it is
        used (a name may resolve elsewhere than when the config was saved); streams dial the
        address it returns. `http`: the client the SDK's calls (`chat`) go through, one that
        dials only checked addresses too."""
        self._api_key = api_key
        self._vet = vet
        self._http = http
        self._max_retries = max_retries
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._on_call = on_call
        self._detached: set[asyncio.Task[None]] = set()
        self._base_url = base_url
        self._timeout = openai.Timeout(timeout_s, connect=connect_timeout_s)

    @property
    def _client(self) -> openai.AsyncOpenAI:
        # Resolved at call time: the shared client belongs to the running event loop.
        http = self._http() if self._http is not None else None
        client = shared_client(self._base_url, self._api_key, http)
        return client.with_options(timeout=self._timeout)

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared (see pool.py)."""

    async def __aenter__(self) -> OpenAICompatibleModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def chat(self, messages: Sequence[ChatMessage], params: ChatParams) -> ChatResult:
        started = time.perf_counter()
        request = _request(messages, params)
        outcome: Outcome = "error"
        error_code: str | None = None
        usage: Usage | None = None
        try:

            async def call() -> ChatCompletion:
                if self._vet is not None:
                    await self._vet(self._base_url)
                created: ChatCompletion = await self._client.chat.completions.create(
                    **request, stream=False
                )
                return created

            completion = await self._with_retries(call)
            result = _to_result(completion, _ms_since(started))
            usage, outcome = result.usage, "ok"
            return result
        except LLMError as exc:
            error_code = exc.code
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            record = _record(params.model, usage, None, _ms_since(started), outcome, error_code)
            await self._report(record)

    async def stream(
        self, messages: Sequence[ChatMessage], params: ChatParams
    ) -> AsyncGenerator[StreamDelta, None]:
        """Deltas as they arrive. Close the generator (`aclosing`) to stop early."""
        started = time.perf_counter()
        body = stream_body(_request(messages, params))
        outcome: Outcome = "error"
        error_code: str | None = None
        usage: UsageDelta | None = None
        ttft_ms: float | None = None
        yielded = False
        attempt = 0
        try:
            while True:
                try:
                    # Straight over the shared HTTP client and parsed here: the SDK's request
                    # building and per-chunk models cost more CPU than the rest of a turn.
                    address = await self._vet(self._base_url) if self._vet else None
                    async with open_stream(
                        self._base_url, self._api_key, body, self._timeout, address
                    ) as response:
                        finished = False
                        async for chunk in chunks(response):
                            usage = chunk_usage(chunk) or usage
                            for delta in chunk_deltas(chunk):
                                if isinstance(delta, FinishDelta):
                                    finished = True
                                elif ttft_ms is None:
                                    ttft_ms = _ms_since(started)
                                yielded = True
                                yield delta
                    if not finished:
                        raise _Truncated
                    # Held back so consumers see usage once, even if a server repeats it.
                    if usage is not None:
                        yield usage
                    outcome = "ok"
                    return
                except (openai.OpenAIError, _Truncated) as exc:
                    # Past the first delta a retry would duplicate output: fail instead.
                    if yielded or attempt >= self._max_retries or not _retryable(exc):
                        raise _stream_error(exc, self._api_key, yielded) from None
                    await asyncio.sleep(self._delay(attempt, exc))
                    attempt += 1
        except LLMError as exc:
            error_code = exc.code
            raise
        except (asyncio.CancelledError, GeneratorExit):
            outcome = "cancelled"
            raise
        finally:
            record = _record(params.model, usage, ttft_ms, _ms_since(started), outcome, error_code)
            await self._report(record)

    async def _with_retries(self, call: Callable[[], Awaitable[_T]]) -> _T:
        attempt = 0
        while True:
            try:
                return await call()
            except openai.OpenAIError as exc:
                if attempt >= self._max_retries or not is_retryable(exc):
                    # `from None`: the SDK error's text may quote the key back at us.
                    raise map_error(exc, self._api_key) from None
                await asyncio.sleep(self._delay(attempt, exc))
                attempt += 1

    def _delay(self, attempt: int, exc: Exception) -> float:
        retry_after = _retry_after_s(exc)
        if retry_after is not None:
            return min(retry_after, self._backoff_max_s)
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2.0**attempt)
        return ceiling * _rng.uniform(0.5, 1.0)

    async def _report(self, record: LLMCallRecord) -> None:
        logger.info(
            "llm call %s %s in %.0f ms",
            record.model,
            record.outcome,
            record.latency_ms,
            extra={"llm_call": record},
        )
        if self._on_call is None:
            return
        if record.outcome != "cancelled":
            await self._emit(self._on_call, record)
            return
        # A cancelled caller may be cancelled again at any await; detach so the record lands.
        task = asyncio.get_running_loop().create_task(self._emit(self._on_call, record))
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    async def _emit(self, on_call: OnCall, record: LLMCallRecord) -> None:
        try:
            await on_call(record)
        except Exception:
            logger.exception("LLM call-log callback failed")


def _record(
    model: str,
    usage: Usage | None,
    ttft_ms: float | None,
    latency_ms: float,
    outcome: Outcome,
    error_code: str | None,
) -> LLMCallRecord:
    usage = usage or Usage()
    return LLMCallRecord(
        model=model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        ttft_ms=ttft_ms,
        latency_ms=latency_ms,
        outcome=outcome,
        error_code=error_code,
    )


def _request(messages: Sequence[ChatMessage], params: ChatParams) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": params.model,
        "messages": [m.to_openai() for m in messages],
    }
    if params.temperature is not None:
        request["temperature"] = params.temperature
    if params.max_tokens is not None:
        request["max_tokens"] = params.max_tokens
    if params.tools:
        request["tools"] = [t.to_openai() for t in params.tools]
    if params.tool_choice is not None:
        choice = params.tool_choice
        request["tool_choice"] = choice if isinstance(choice, str) else dict(choice)
    extra_body = {**(_THINKING_BODY if params.thinking else {}), **(params.extra_body or {})}
    if extra_body:
        request["extra_body"] = extra_body
    return request


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, _Truncated) or (
        isinstance(exc, openai.OpenAIError) and is_retryable(exc)
    )


def _stream_error(exc: Exception, api_key: str, yielded: bool) -> LLMError:
    if isinstance(exc, openai.OpenAIError):
        return map_error(exc, api_key, mid_stream=yielded)
    if yielded:
        return LLMStreamInterrupted("The LLM stream ended before it finished.")
    return LLMProviderError("The LLM provider closed the stream without an answer.")


def _retry_after_s(exc: Exception) -> float | None:
    if not isinstance(exc, openai.RateLimitError):
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


def _reasoning_of(model: BaseModel) -> str | None:
    """DeepSeek/Qwen send `reasoning_content`; OpenRouter-style servers send `reasoning`."""
    extra = model.model_extra or {}
    for key in ("reasoning_content", "reasoning"):
        value = getattr(model, key, None) or extra.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _usage(usage: CompletionUsage, kind: type[_U]) -> _U:
    details = usage.completion_tokens_details
    return kind(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        reasoning_tokens=(details.reasoning_tokens or 0) if details else 0,
        total_tokens=usage.total_tokens,
    )


def _to_result(completion: ChatCompletion, latency_ms: float) -> ChatResult:
    if not completion.choices:
        raise LLMProviderError("The LLM provider returned no choices.")
    choice = completion.choices[0]
    message = choice.message
    calls = [
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
        for c in message.tool_calls or ()
        if isinstance(c, ChatCompletionMessageFunctionToolCall)
    ]
    return ChatResult(
        text=message.content or "",
        reasoning=_reasoning_of(message) or "",
        tool_calls=calls,
        usage=_usage(completion.usage, Usage) if completion.usage else None,
        finish_reason=choice.finish_reason,
        latency_ms=latency_ms,
    )


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
