"""A real OpenAI-compatible HTTP server with scripted replies, for tests and benchmarks.

Run it with `python -m tiangong.testing.fake_llm --port 8900`, or in-process:

    with FakeLLM() as fake:
        fake.script([{"content": "hi", "delay_ms": 5}, {"fault": "429"}])
        ... point a client at fake.base_url ...
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import math
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

DEFAULT_MODEL = "fake-model"
SSE = "text/event-stream"


class ScriptedToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    name: str
    arguments: str | dict[str, Any] = "{}"

    def arguments_text(self) -> str:
        args = self.arguments
        return args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)


class Reply(BaseModel):
    """One scripted answer. Unknown fields are rejected so a typo cannot pass silently."""

    model_config = ConfigDict(extra="forbid")

    content: str | None = None  # None without tool_calls: echo the last user message
    reasoning: str | None = None
    reasoning_key: Literal["reasoning_content", "reasoning"] = "reasoning_content"
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    chunk_size: int | None = Field(default=None, ge=1)
    delay_ms: float = Field(default=0, ge=0)
    first_token_delay_ms: float = Field(default=0, ge=0)
    # drop: cut the connection; truncate: end the body cleanly but without finish or [DONE]
    fault: Literal["429", "500", "drop", "truncate", "hang"] | None = None
    retry_after: float = Field(default=0, ge=0)  # seconds, sent with fault "429"
    drop_after: int = Field(default=2, ge=0)  # deltas sent before a drop or truncate
    times: int = Field(default=1, ge=1)
    usage: dict[str, int] | None = None
    match: str | None = None

    @field_validator("fault", mode="before")
    @classmethod
    def _fault_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class FakeState:
    """Script queue and request log, shared by the server thread and the test thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: list[Reply] = []
        self._requests: list[dict[str, Any]] = []
        self._embedding_requests: list[dict[str, Any]] = []

    def script(self, replies: Sequence[Mapping[str, Any] | Reply], *, append: bool = False) -> None:
        parsed = [r if isinstance(r, Reply) else Reply.model_validate(r) for r in replies]
        with self._lock:
            if not append:
                self._replies.clear()
            self._replies.extend(parsed)

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self._requests.clear()
            self._embedding_requests.clear()

    def take(self, last_user: str) -> Reply | None:
        with self._lock:
            for i, reply in enumerate(self._replies):
                if reply.match is None or reply.match in last_user:
                    if reply.times > 1:
                        self._replies[i] = reply.model_copy(update={"times": reply.times - 1})
                    else:
                        del self._replies[i]
                    return reply
        return None

    def record(self, body: dict[str, Any], *, embeddings: bool = False) -> None:
        with self._lock:
            (self._embedding_requests if embeddings else self._requests).append(body)

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._embedding_requests)


def embed_text(text: str, dim: int = 384) -> list[float]:
    """A unit vector seeded by the text's hash: same text, same vector, in any process."""
    raw = bytearray()
    counter = 0
    while len(raw) < dim * 4:
        block = text.encode() + counter.to_bytes(4, "little")
        raw += hashlib.blake2b(block, digest_size=64).digest()
        counter += 1
    values = [n / 2**31 - 1.0 for n in struct.unpack(f"<{dim}I", bytes(raw[: dim * 4]))]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class _Dropped(Exception):
    """Raised after the response started, so uvicorn cuts the connection mid-body."""


class _Quiet(logging.Filter):
    """Hides the tracebacks of deliberate drops and of requests cut by `FakeLLM.stop()`."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _Dropped | asyncio.CancelledError)


class _Frames(Response):
    """Sends body frames with per-frame delays; optionally drops the connection at the end."""

    def __init__(
        self,
        frames: list[bytes],
        delays_s: list[float],
        *,
        media_type: str,
        drop: bool = False,
        content_length: int | None = None,
    ) -> None:
        # Response.__init__ would add `content-length: 0`; set up headers like StreamingResponse.
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        headers = {"cache-control": "no-cache"}
        if content_length is not None:
            headers["content-length"] = str(content_length)
        self.init_headers(headers)
        self.frames, self.delays_s, self.drop = frames, delays_s, drop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        # Stop pacing as soon as the client leaves, so no stream outlives its reader.
        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            for frame, delay in zip(self.frames, self.delays_s, strict=True):
                if delay:
                    await _wait(gone, delay)
                if gone.is_set():
                    return
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            if self.drop:
                raise _Dropped
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


def _error(status: int, message: str, type_: str, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _last_user(messages: list[Any]) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return _text_of(m.get("content"))
    return ""


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class _Turn:
    """One request's answer, rendered either as a completion or as stream chunks."""

    def __init__(self, reply: Reply, body: dict[str, Any], chunk_size: int) -> None:
        self.reply = reply
        self.model = str(body.get("model") or DEFAULT_MODEL)
        self.id = f"chatcmpl-fake-{time.monotonic_ns()}"
        self.created = int(time.time())
        self.chunk_size = reply.chunk_size or chunk_size
        messages = body.get("messages") or []
        if reply.content is None and not reply.tool_calls:
            self.content = f"echo: {_last_user(messages)}"
        else:
            self.content = reply.content or ""
        self.calls = [
            (c.id or f"call_{i}", c.name, c.arguments_text())
            for i, c in enumerate(reply.tool_calls)
        ]
        self.finish = reply.finish_reason or ("tool_calls" if self.calls else "stop")
        prompt = sum(
            count_tokens(_text_of(m.get("content"))) for m in messages if isinstance(m, dict)
        )
        reasoning = count_tokens(reply.reasoning or "")
        answer = count_tokens(self.content + "".join(a for _, _, a in self.calls))
        u = {"prompt_tokens": prompt, "completion_tokens": reasoning + answer}
        u["reasoning_tokens"] = reasoning
        u.update(reply.usage or {})
        self.usage = {
            "prompt_tokens": u["prompt_tokens"],
            "completion_tokens": u["completion_tokens"],
            "total_tokens": u.get("total_tokens", u["prompt_tokens"] + u["completion_tokens"]),
            "completion_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]},
        }

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.reply.reasoning:
            message[self.reply.reasoning_key] = self.reply.reasoning
        if self.calls:
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                for i, n, a in self.calls
            ]
        choice = {"index": 0, "message": message, "finish_reason": self.finish, "logprobs": None}
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": self.usage,
        }

    def deltas(self) -> list[dict[str, Any]]:
        """The deltas after the opening role delta, in the order a real server sends them."""
        size = self.chunk_size
        out: list[dict[str, Any]] = [
            {self.reply.reasoning_key: p} for p in _pieces(self.reply.reasoning or "", size)
        ]
        out += [{"content": p} for p in _pieces(self.content, size)]
        for index, (call_id, name, args) in enumerate(self.calls):
            head = {"index": index, "id": call_id, "type": "function"}
            out.append({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]})
            out += [
                {"tool_calls": [{"index": index, "function": {"arguments": p}}]}
                for p in _pieces(args, size)
            ]
        return out

    def chunk(self, delta: dict[str, Any] | None, finish: str | None = None) -> bytes:
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
        }
        if delta is not None:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            data["choices"] = [choice]
        else:
            data["usage"] = self.usage
        return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"

    def stream(self, include_usage: bool) -> _Frames:
        reply, deltas = self.reply, self.deltas()
        opening = [self.chunk({"role": "assistant", "content": ""})]
        paced = [self.chunk(d) for d in deltas] + [self.chunk({}, self.finish)]
        pace = [reply.first_token_delay_ms / 1000] + [reply.delay_ms / 1000] * (len(paced) - 1)
        if reply.fault in ("drop", "truncate"):
            keep = min(reply.drop_after, len(deltas))
            drop = reply.fault == "drop"
            return _Frames(opening + paced[:keep], [0.0] + pace[:keep], media_type=SSE, drop=drop)
        tail = ([self.chunk(None)] if include_usage else []) + [b"data: [DONE]\n\n"]
        frames = opening + paced + tail
        return _Frames(frames, [0.0] + pace + [0.0] * len(tail), media_type=SSE)


def create_app(
    state: FakeState,
    *,
    api_key: str | None = None,
    models: Sequence[str] | None = None,
    embedding_dim: int = 384,
    chunk_size: int = 4,
) -> Starlette:
    """The fake's ASGI app. `models` restricts the accepted model names (others get 404)."""
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _Quiet) for f in uvicorn_errors.filters):
        uvicorn_errors.addFilter(_Quiet())

    async def read_body(request: Request) -> dict[str, Any] | Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "The request body is not valid JSON.", "invalid_request_error")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.", "invalid_request_error")
        return body

    def reject(request: Request, model: object) -> Response | None:
        if api_key is not None and request.headers.get("authorization") != f"Bearer {api_key}":
            return _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        if models and model not in models:
            return _error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        return None

    async def chat_completions(request: Request) -> Response:
        body = await read_body(request)
        if isinstance(body, Response):
            return body
        state.record(body)
        if (rejected := reject(request, body.get("model"))) is not None:
            return rejected
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "`messages` must be a non-empty list.", "invalid_request_error")
        reply = state.take(_last_user(messages)) or Reply()
        if reply.fault == "429":
            response = _error(
                429, "Rate limit reached (scripted).", "requests", "rate_limit_exceeded"
            )
            response.headers["retry-after"] = f"{reply.retry_after:g}"
            return response
        if reply.fault == "500":
            return _error(500, "The server had an error (scripted).", "server_error")
        if reply.fault == "hang":
            while (await request.receive())["type"] != "http.disconnect":
                pass
            return Response(status_code=204)
        turn = _Turn(reply, body, chunk_size)
        if body.get("stream"):
            options = body.get("stream_options") or {}
            return turn.stream(include_usage=bool(options.get("include_usage")))
        await asyncio.sleep(reply.first_token_delay_ms / 1000)
        payload = json.dumps(turn.completion(), ensure_ascii=False).encode()
        if reply.fault in ("drop", "truncate"):
            half = payload[: len(payload) // 2]
            return _Frames(
                [half], [0.0], media_type="application/json", drop=True, content_length=len(payload)
            )
        return Response(payload, media_type="application/json")

    async def embeddings(request: Request) -> Response:
        body = await read_body(request)
        if isinstance(body, Response):
            return body
        state.record(body, embeddings=True)
        if (rejected := reject(request, body.get("model"))) is not None:
            return rejected
        raw = body.get("input")
        inputs = [raw] if isinstance(raw, str) else raw
        if not isinstance(inputs, list) or not inputs:
            return _error(
                400, "`input` must be a string or a non-empty list.", "invalid_request_error"
            )
        dim = body.get("dimensions") or embedding_dim
        if not isinstance(dim, int) or dim < 1:
            return _error(400, "`dimensions` must be a positive integer.", "invalid_request_error")
        texts = [i if isinstance(i, str) else json.dumps(i) for i in inputs]
        data = []
        for index, text in enumerate(texts):
            vector = embed_text(text, dim)
            encoded: list[float] | str = vector
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(count_tokens(t) for t in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or DEFAULT_MODEL,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def list_models(request: Request) -> Response:
        names = list(models or [DEFAULT_MODEL])
        if (rejected := reject(request, names[0])) is not None:
            return rejected
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "fake"} for n in names]
        return JSONResponse({"object": "list", "data": data})

    async def script(request: Request) -> Response:
        """Body: a list of replies (replaces the queue) or {"replies": [...], "append": bool}."""
        try:
            body = await request.json()
            if isinstance(body, list):
                state.script(body)
            else:
                state.script(body["replies"], append=bool(body.get("append")))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return _error(400, f"Bad script: {exc}", "invalid_request_error")
        return JSONResponse({"ok": True})

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"ok": True})

    async def requests(request: Request) -> Response:
        embedding = request.query_params.get("kind") == "embeddings"
        return JSONResponse(state.embedding_requests if embedding else state.requests)

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/_script", script, methods=["POST"]),
            Route("/_reset", reset, methods=["POST"]),
            Route("/_requests", requests, methods=["GET"]),
        ]
    )


class FakeLLM:
    """Runs the fake in a background thread on a loopback port."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Sequence[str] | None = None,
        embedding_dim: int = 384,
        chunk_size: int = 4,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = FakeState()
        self.app = create_app(
            self.state,
            api_key=api_key,
            models=models,
            embedding_dim=embedding_dim,
            chunk_size=chunk_size,
        )
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Bodies of every chat-completions request received, oldest first."""
        return self.state.requests

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        return self.state.embedding_requests

    def script(self, replies: Sequence[Mapping[str, Any]], *, append: bool = False) -> None:
        self.state.script(replies, append=append)

    def reset(self) -> None:
        self.state.reset()

    def start(self) -> FakeLLM:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-llm", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 5
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The fake LLM server did not start.")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        # force_exit: tests must not wait for scripted hangs to finish.
        self._server.should_exit = self._server.force_exit = True
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeLLM:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible LLM server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    parser.add_argument("--models", default="", help="comma-separated allowed models")
    parser.add_argument("--embedding-dim", type=int, default=384)
    parser.add_argument("--chunk-size", type=int, default=4)
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m] or None
    app = create_app(
        FakeState(),
        api_key=args.api_key,
        models=models,
        embedding_dim=args.embedding_dim,
        chunk_size=args.chunk_size,
    )
    print(f"fake LLM on http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
