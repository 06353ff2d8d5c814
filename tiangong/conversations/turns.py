"""One chat turn, durable end to end.

1. A short transaction stores the user message and an assistant placeholder (status
   "streaming"); both go to the history cache at once.
2. The answer is generated in a detached task with no transaction open. The caller reads its
   events from a queue; if the caller goes away (client disconnect) the task keeps going.
3. When generation ends, however it ends, the answer is written to the cache, then the `done`
   (or `error`) event goes out, then the database row is updated in its own transaction.
   Cancelled mid-way (shutdown), it saves what it has, marked "incomplete".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from tiangong.conversations import history
from tiangong.conversations.context import prepare_turn
from tiangong.conversations.models import Message
from tiangong.conversations.schemas import MessageView
from tiangong.db import one_hop
from tiangong.db.base import utcnow
from tiangong.llm_logs.recorder import recorder
from tiangong.model_configs.service import ResolvedModel
from tiangong.runtime.agent import (
    DoneEvent,
    ErrorEvent,
    ReasoningEvent,
    TokenEvent,
    ToolCallEvent,
    ToolExecutor,
    ToolResultEvent,
    run_agent,
)
from tiangong.runtime.llm import ChatMessage, ChatParams

log = logging.getLogger(__name__)

_running: set[asyncio.Task[MessageView]] = set()


@dataclass(frozen=True)
class RetryRequest:
    group_id: str | None = None
    user_message_id: int | None = None
    assistant_message_id: int | None = None


@dataclass(frozen=True)
class TurnRequest:
    user_id: str
    message: str
    model: ResolvedModel
    source: str
    conversation_id: str | None = None
    agent_id: str | None = None
    system_prompt: str | None = None
    # None: the model config's default.
    thinking: bool | None = None
    iteration_limit: int = 15
    # Built once the turn exists, so tools can report (approval requests) on its stream.
    tools: Callable[[Turn], ToolExecutor] | None = None
    retry: RetryRequest | None = None
    # SmartFlow: when thinking is on and the model gives no reasoning, report the stages instead.
    stage_reasoning: bool = False
    # Knowledge sources the answer may cite as [n]; the knowledge_search tool appends to this
    # list while the turn runs, so it is read when the turn ends.
    citations: list[dict[str, Any]] | None = None


@dataclass
class TurnEvent:
    type: str
    data: dict[str, Any]


@dataclass
class Turn:
    conversation_id: str
    conversation_created: bool
    user_message: MessageView
    assistant: MessageView
    _queue: asyncio.Queue[TurnEvent | None] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[MessageView] | None = None

    @property
    def retry_group_id(self) -> str | None:
        return self.assistant.retry_group_id

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        self._queue.put_nowait(TurnEvent(event_type, data))

    async def events(self) -> AsyncIterator[TurnEvent]:
        """Events until the turn ends; the last is `done` or `error`. One reader per turn."""
        while (event := await self._queue.get()) is not None:
            yield event

    async def result(self) -> MessageView:
        """The saved answer. Shielded: a caller giving up does not stop the turn."""
        assert self._task is not None
        return await asyncio.shield(self._task)


async def start_turn(request: TurnRequest) -> Turn:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[TurnEvent | None] = asyncio.Queue()
    ready: asyncio.Future[Turn] = loop.create_future()
    task: asyncio.Task[MessageView] | None = None

    def begin(conversation_id: str, context: list[ChatMessage]) -> None:
        nonlocal task
        task = loop.create_task(_generate(ready, request, conversation_id, context, queue))
        _running.add(task)
        task.add_done_callback(_running.discard)

    try:
        prepared = await prepare_turn(request, begin)
        await history.remember(prepared.user_message, prepared.assistant)
        await history.remember_retry(*prepared.touched)
    except BaseException:
        ready.cancel()
        if task is not None:
            task.cancel()
        raise
    turn = Turn(
        conversation_id=prepared.conversation_id,
        conversation_created=prepared.created,
        user_message=prepared.user_message,
        assistant=prepared.assistant,
        _queue=queue,
        _task=task,
    )
    ready.set_result(turn)
    return turn


async def drain(grace_s: float = 10.0) -> None:
    """On shutdown: let running turns finish for a while, then cancel them (they save partial)."""
    if not _running:
        return
    _, pending = await asyncio.wait(set(_running), timeout=grace_s)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=5)


def _stage_text(stages: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"阶段：{name}\n{text}" for name, text in stages)


class _Progress:
    """What the turn has produced so far, and when."""

    def __init__(self, context_size: int) -> None:
        self.started = time.monotonic()
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.reasoning_started: float | None = None
        self.first_token: float | None = None
        self.tool_calls: list[dict[str, Any]] = []
        self.usage: dict[str, int] | None = None
        self.stages: list[tuple[str, str]] = [
            ("request.accepted", "用户请求已接收。"),
            ("context.loaded", f"已载入 {context_size} 条上下文消息。"),
        ]
        self.stage_sent = False

    def duration_seconds(self, stage_mode: bool) -> int:
        end = self.first_token or time.monotonic()
        if self.reasoning_started is not None:
            return max(0, round(end - self.reasoning_started))
        return max(0, round(end - self.started)) if stage_mode else 0


async def _generate(
    ready: asyncio.Future[Turn],
    request: TurnRequest,
    conversation_id: str,
    context: list[ChatMessage],
    queue: asyncio.Queue[TurnEvent | None],
) -> MessageView:
    """Starts before the turn's messages are committed (see `prepare_turn`); events wait in
    the queue, and nothing is saved until `ready` says the messages exist."""
    model = request.model
    thinking = model.thinking if request.thinking is None else request.thinking
    stage_mode = request.stage_reasoning and thinking
    progress = _Progress(len(context))
    status, error = "incomplete", None

    def emit(event_type: str, data: dict[str, Any]) -> None:
        queue.put_nowait(TurnEvent(event_type, data))

    client = model.client(
        on_call=recorder(
            user_id=request.user_id,
            agent_id=request.agent_id,
            conversation_id=conversation_id,
        )
    )
    params = ChatParams(
        model=model.model_name,
        temperature=model.temperature,
        max_tokens=model.max_tokens,
        thinking=thinking,
        extra_body=model.extra_params or None,
    )
    try:
        # Tools report on the turn itself (approvals), so they wait for it.
        executor = request.tools(await asyncio.shield(ready)) if request.tools else None
        events = run_agent(
            client, context, params, tools=executor, iteration_limit=request.iteration_limit
        )
        async with aclosing(events):
            async for event in events:
                if isinstance(event, DoneEvent):
                    status, progress.usage = "complete", event.token_usage
                    progress.tool_calls = event.tool_calls
                    continue
                if isinstance(event, ErrorEvent):
                    status, error, progress.usage = "failed", event, event.token_usage
                    continue
                _observe(emit, progress, event, stage_mode)
                emit(event.type, event.to_dict())
                if not ready.done():
                    # Hold the rest of the stream until the messages are stored: parsing it now
                    # would only compete with that insert for the event loop.
                    await asyncio.shield(ready)
                else:
                    # Chunks already buffered would otherwise be parsed in one go, keeping the
                    # event loop from the writer that relays them (and every other request).
                    await asyncio.sleep(0)
    except asyncio.CancelledError:
        status = "incomplete"
        raise
    except Exception as exc:
        log.exception("chat turn crashed")
        status = "failed"
        error = ErrorEvent("CHAT_FAILED", str(exc)[:200], "", "", {})
    finally:
        await client.aclose()
        # A cancelled `ready` means storing the messages failed: nothing to save, and this
        # raises CancelledError to end the task.
        turn = await asyncio.shield(ready)
        final = _final_view(turn, progress, status, error, stage_mode, request.citations)
        await asyncio.shield(_finish(turn, final, error))
    return final


def _observe(
    emit: Callable[[str, dict[str, Any]], None], progress: _Progress, event: Any, stage_mode: bool
) -> None:
    now = time.monotonic()
    if isinstance(event, ReasoningEvent):
        progress.reasoning_started = progress.reasoning_started or now
        progress.reasoning.append(event.text)
    elif isinstance(event, TokenEvent):
        if progress.first_token is None:
            progress.first_token = now
            if stage_mode and not progress.reasoning:
                # The model gave no reasoning: show the stages the turn went through instead.
                progress.stages.append(("answer.generating", "正在生成回答。"))
                progress.stage_sent = True
                emit("reasoning", {"text": _stage_text(progress.stages)})
        progress.content.append(event.text)
    elif isinstance(event, ToolCallEvent):
        progress.stages.append((f"tool.{event.name}", f"调用工具 {event.name}。"))
    elif isinstance(event, ToolResultEvent):
        outcome = "失败" if event.error else "完成"
        progress.stages.append(
            (
                f"tool.{event.name}",
                f"工具 {event.name} {outcome}，耗时 {event.duration_ms:.0f} ms。",
            )
        )


def _final_view(
    turn: Turn,
    progress: _Progress,
    status: str,
    error: ErrorEvent | None,
    stage_mode: bool,
    citations: list[dict[str, Any]] | None,
) -> MessageView:
    reasoning = "".join(progress.reasoning)
    if not reasoning and stage_mode:
        reasoning = _stage_text(progress.stages)
    return turn.assistant.model_copy(
        update={
            "content": "".join(progress.content),
            "reasoning_content": reasoning,
            "reasoning_duration_seconds": progress.duration_seconds(stage_mode),
            "status": status,
            "error": f"{error.code}: {error.message}"[:500] if error else None,
            "token_usage": progress.usage,
            "tool_calls": progress.tool_calls or None,
            "citations": list(citations) if citations else None,
        }
    )


async def _finish(turn: Turn, final: MessageView, error: ErrorEvent | None) -> None:
    await history.remember(final)
    # Saved before the stream ends: a client that has the `done` event finds the answer in the
    # database too, and its next message does not arrive while this write holds the loop.
    await _save(final)
    payload = _final_payload(turn, final)
    if error is not None:
        turn.emit("error", {"code": error.code, "message": error.message, **payload})
    elif final.status == "complete":
        turn.emit("done", payload)
    turn._queue.put_nowait(None)


def _final_payload(turn: Turn, final: MessageView) -> dict[str, Any]:
    return {
        "conversation_id": turn.conversation_id,
        "message_id": final.id,
        "user_message_id": turn.user_message.id,
        "status": final.status,
        "content": final.content,
        "reasoning_content": final.reasoning_content,
        "reasoning_duration_seconds": final.reasoning_duration_seconds,
        "retry_group_id": final.retry_group_id,
        "retry_index": final.retry_index,
        "token_usage": final.token_usage or {},
        "tool_calls": final.tool_calls or [],
        "citations": final.citations or [],
    }


async def _save(final: MessageView) -> None:
    values = {
        "content": final.content,
        "reasoning_content": final.reasoning_content,
        "reasoning_duration_seconds": final.reasoning_duration_seconds,
        "status": final.status,
        "error": final.error,
        "token_usage": final.token_usage,
        "tool_calls": final.tool_calls,
        "citations": final.citations,
        "updated_at": utcnow(),
    }
    # The conversation's last_message_at stays the turn's start (set with the messages):
    # lists order by when people wrote, not by when answers landed.
    statement = update(Message).where(Message.id == final.id).values(values)
    for attempt in range(3):
        try:
            await one_hop.write(lambda session: session.execute(statement))
            return
        except Exception:
            log.exception("saving answer %s failed (attempt %d)", final.id, attempt + 1)
            await asyncio.sleep(0.2 * (attempt + 1))
