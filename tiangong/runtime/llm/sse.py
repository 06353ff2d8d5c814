"""Streamed chat completions without the SDK on the hot path.

The request goes over a lean HTTP/1.1 client (`lean_http`) and the SSE body is parsed into
plain dicts: the SDK's request building and its per-chunk pydantic models, and httpx's request
path, cost more CPU than the rest of a streamed turn. Failures are raised as the SDK's
exception types, so `errors.map_error` handles them exactly like the SDK's own (non-streaming
calls still use the SDK).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2 as httpx
import openai

from tiangong.runtime.llm import lean_http
from tiangong.runtime.llm.pool import shared_http
from tiangong.runtime.llm.types import (
    FinishDelta,
    ReasoningDelta,
    StreamDelta,
    TextDelta,
    ToolCallDelta,
    UsageDelta,
)

_STATUS_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    403: openai.PermissionDeniedError,
    404: openai.NotFoundError,
    409: openai.ConflictError,
    422: openai.UnprocessableEntityError,
    429: openai.RateLimitError,
}


def stream_body(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON body for a streamed call: the SDK's `extra_body` merged in, usage asked for."""
    body = {k: v for k, v in request.items() if k != "extra_body"}
    body.update(request.get("extra_body") or {})
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    return body


@asynccontextmanager
async def open_stream(
    base_url: str,
    api_key: str,
    body: dict[str, Any],
    timeouts: httpx.Timeout,
    connect_to: str | None = None,
) -> AsyncIterator[Any]:
    """POST {base_url}/chat/completions and yield the open response once its status is 2xx:
    over `lean_http` unless a proxy is configured, else over the shared httpx client.
    `connect_to`: the vetted address to dial (the proxy, when there is one, dials itself)."""
    headers = {
        "Authorization": f"Bearer {api_key or 'EMPTY'}",
        "Accept": "text/event-stream",
    }
    url = f"{base_url.rstrip('/')}/chat/completions"
    if not lean_http.direct():
        async with _httpx_stream(url, headers, body, timeouts) as response:
            yield response
        return
    limits = lean_http.Timeouts(timeouts.connect, timeouts.read, timeouts.write)
    try:
        lean = await lean_http.post(url, headers, json.dumps(body).encode(), limits, connect_to)
    except lean_http.LeanTimeout:
        raise openai.APITimeoutError(request=httpx.Request("POST", url)) from None
    except lean_http.LeanTransportError:
        raise openai.APIConnectionError(request=httpx.Request("POST", url)) from None
    try:
        if lean.status_code >= 300:
            raise await _lean_status_error(lean)
        yield lean
    finally:
        await lean.aclose()


@asynccontextmanager
async def _httpx_stream(
    url: str, headers: dict[str, str], body: dict[str, Any], timeouts: httpx.Timeout
) -> AsyncIterator[httpx.Response]:
    http = shared_http()
    request = http.build_request("POST", url, json=body, headers=headers, timeout=timeouts)
    try:
        response = await http.send(request, stream=True)
    except httpx.TimeoutException:
        raise openai.APITimeoutError(request=request) from None
    except httpx.TransportError:
        raise openai.APIConnectionError(request=request) from None
    try:
        if response.status_code >= 300:
            raise await _status_error(response)
        yield response
    finally:
        await response.aclose()


async def _lean_status_error(lean: lean_http.LeanResponse) -> openai.APIStatusError:
    """The SDK's error types want an httpx response (its headers carry Retry-After)."""
    try:
        content = await lean.aread()
    except (lean_http.LeanTimeout, lean_http.LeanTransportError):
        content = b""
    response = httpx.Response(
        lean.status_code,
        headers=list(lean.headers.items()),
        content=content,
        request=httpx.Request("POST", lean.url),
    )
    return await _status_error(response)


async def _status_error(response: httpx.Response) -> openai.APIStatusError:
    try:
        text = (await response.aread()).decode(errors="replace").strip()
    except httpx.HTTPError:
        text = ""
    body: Any = text
    try:
        body = json.loads(text)
    except ValueError:
        pass
    data = body.get("error", body) if isinstance(body, dict) else body
    message = f"Error code: {response.status_code}"
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        message += f" - {data['message']}"
    status = response.status_code
    kind = _STATUS_ERRORS.get(status)
    if kind is None:
        kind = openai.InternalServerError if status >= 500 else openai.APIStatusError
    return kind(message, response=response, body=data)


def _request_of(response: Any) -> httpx.Request:
    if isinstance(response, httpx.Response):
        return response.request
    return httpx.Request("POST", response.url)


async def chunks(response: Any) -> AsyncGenerator[dict[str, Any], None]:
    """The JSON objects of an OpenAI-style SSE stream, until `[DONE]` or the end of the body.

    Transport failures become the SDK's connection errors and an in-stream `error` object an
    `APIError`, so `map_error` treats them as it treats the same failures before the stream."""
    data: list[str] = []
    try:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
                continue
            if line or not data:
                continue  # `event:`, `id:`, comments (keep-alives), or a blank line alone
            payload, data = "\n".join(data), []
            if payload == "[DONE]":
                return
            yield _object(payload, response)
        if data and (payload := "\n".join(data)) != "[DONE]":
            yield _object(payload, response)
    except (httpx.TimeoutException, lean_http.LeanTimeout):
        raise openai.APITimeoutError(request=_request_of(response)) from None
    except (httpx.TransportError, lean_http.LeanTransportError):
        raise openai.APIConnectionError(request=_request_of(response)) from None


def _object(payload: str, response: Any) -> dict[str, Any]:
    try:
        chunk = json.loads(payload)
    except ValueError:
        raise openai.APIError(
            "The LLM provider sent a malformed stream chunk.", _request_of(response), body=None
        ) from None
    if not isinstance(chunk, dict):
        raise openai.APIError(
            "The LLM provider sent a malformed stream chunk.", _request_of(response), body=None
        )
    error = chunk.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise openai.APIError(str(message or "stream error"), _request_of(response), body=error)
    return chunk


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def chunk_usage(chunk: dict[str, Any]) -> UsageDelta | None:
    usage = chunk.get("usage")
    if not isinstance(usage, dict):
        return None
    details = usage.get("completion_tokens_details")
    return UsageDelta(
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        reasoning_tokens=_int(details.get("reasoning_tokens")) if isinstance(details, dict) else 0,
        total_tokens=_int(usage.get("total_tokens")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def chunk_deltas(chunk: dict[str, Any]) -> list[StreamDelta]:
    deltas: list[StreamDelta] = []
    for choice in chunk.get("choices") or ():
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        delta = choice.get("delta") or {}
        # DeepSeek/Qwen send `reasoning_content`; OpenRouter-style servers send `reasoning`.
        reasoning = _text(delta.get("reasoning_content")) or _text(delta.get("reasoning"))
        if reasoning:
            deltas.append(ReasoningDelta(reasoning))
        content = _text(delta.get("content"))
        if content:
            deltas.append(TextDelta(content))
        for call in delta.get("tool_calls") or ():
            fn = call.get("function") or {}
            deltas.append(
                ToolCallDelta(
                    index=_int(call.get("index")),
                    id=call.get("id"),
                    name=fn.get("name"),
                    arguments_fragment=fn.get("arguments") or "",
                )
            )
        if choice.get("finish_reason"):
            deltas.append(FinishDelta(choice["finish_reason"]))
    return deltas
