"""The first, transactional half of a turn: conversation, messages, retry group, context."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tiangong.conversations import repository
from tiangong.conversations.history import view
from tiangong.conversations.models import Conversation, Message
from tiangong.conversations.schemas import MessageView
from tiangong.db import one_hop
from tiangong.db.base import new_id, utcnow
from tiangong.db.direct import insert_row
from tiangong.db.engine import session_factory
from tiangong.errors import BadRequest, NotFound
from tiangong.runtime.agent import build_context
from tiangong.runtime.llm import ChatMessage

if TYPE_CHECKING:
    from tiangong.conversations.turns import RetryRequest, TurnRequest

TITLE_LENGTH = 40
# Event-loop turns the model request needs to reach its socket (see prepare_turn).
YIELDS_BEFORE_WRITE = 3


@dataclass
class PreparedTurn:
    conversation_id: str
    created: bool
    user_message: MessageView
    assistant: MessageView
    # Earlier messages whose retry fields changed and must reach the cache too.
    touched: list[MessageView]
    context: list[ChatMessage]


def chat_history(messages: Sequence[MessageView | Message]) -> list[ChatMessage]:
    """What the model sees of earlier turns: text only, never reasoning, latest retry only."""
    latest: dict[str, int] = {}
    for item in messages:
        if item.role == "assistant" and item.retry_group_id:
            index = item.retry_index or 0
            latest[item.retry_group_id] = max(latest.get(item.retry_group_id, 0), index)
    result = []
    for item in messages:
        if item.role == "user":
            result.append(ChatMessage(role="user", content=item.content))
        elif item.role == "assistant":
            superseded = (
                item.retry_group_id and (item.retry_index or 0) < latest[item.retry_group_id]
            )
            if superseded or item.status in ("failed", "streaming") or not item.content:
                continue
            result.append(ChatMessage(role="assistant", content=item.content))
    return result


async def _conversation(session: AsyncSession, request: TurnRequest) -> tuple[Conversation, bool]:
    if request.conversation_id:
        found = await repository.get_owned(session, request.user_id, request.conversation_id)
        if found is None:
            raise NotFound("Conversation not found", code="CONVERSATION_NOT_FOUND")
        if request.agent_id and found.agent_id not in (None, request.agent_id):
            raise BadRequest(
                "This conversation belongs to another agent", code="CONVERSATION_AGENT_MISMATCH"
            )
        return found, False
    # The id is set here, not at flush, so the conversation and its first messages go out in
    # one flush: no INSERT-then-UPDATE on the hot path of a first message.
    created = Conversation(
        id=new_id(),
        user_id=request.user_id,
        agent_id=request.agent_id,
        source=request.source,
        title=request.message.strip()[:TITLE_LENGTH] or "New chat",
        model_ref=request.model.name[:100],
        message_count=0,
    )
    return created, True


async def _retry_target(
    session: AsyncSession, conversation_id: str, retry: RetryRequest
) -> tuple[Message, Message | None]:
    """The user message to answer again, and the answer it replaces (if any)."""
    answer: Message | None = None
    question: Message | None = None
    if retry.assistant_message_id is not None:
        answer = await repository.message_in(session, conversation_id, retry.assistant_message_id)
        if answer is None or answer.role != "assistant":
            raise BadRequest(
                "retry_from_assistant_message_id is not an answer in this conversation",
                code="RETRY_TARGET_INVALID",
            )
    if retry.user_message_id is not None:
        question = await repository.message_in(session, conversation_id, retry.user_message_id)
        if question is None or question.role != "user":
            raise BadRequest(
                "retry_from_user_message_id is not a question in this conversation",
                code="RETRY_TARGET_INVALID",
            )
    if question is None and retry.group_id:
        members = await repository.group_members(session, conversation_id, retry.group_id)
        question = next((m for m in members if m.role == "user"), None)
    rows = await repository.messages(session, conversation_id)
    if question is None and answer is not None:
        question = next((m for m in reversed(rows) if m.role == "user" and m.id < answer.id), None)
    if question is None:
        raise BadRequest("A retry needs the message to answer again", code="RETRY_TARGET_INVALID")
    if answer is None:
        answer = next((m for m in rows if m.role == "assistant" and m.id > question.id), None)
    return question, answer


async def _prepare_retry(
    session: AsyncSession, conversation: Conversation, retry: RetryRequest
) -> tuple[Message, str, int, list[Message]]:
    question, answer = await _retry_target(session, conversation.id, retry)
    group = question.retry_group_id or (answer.retry_group_id if answer else None)
    group = group or retry.group_id or f"retry-{uuid.uuid4().hex[:12]}"
    touched = []
    if question.retry_group_id != group:
        question.retry_group_id = group
        touched.append(question)
    if answer is not None and answer.retry_group_id != group:
        answer.retry_group_id, answer.retry_index = group, 1
        touched.append(answer)
    # Reads run without autoflush, so messages that join the group here are not in `members`.
    members = [*await repository.group_members(session, conversation.id, group), *touched]
    index = max((m.retry_index or 0 for m in members if m.role == "assistant"), default=0) + 1
    return question, group, index, touched


@dataclass
class _Writes:
    """What a turn stores, decided by the read phase: plain objects, no session attached."""

    conversation_id: str
    new_conversation: Conversation | None
    question: Message | None  # None on a retry: the question exists
    answer: Message
    # (message id, retry_group_id, retry_index) of earlier messages joining the retry group.
    retry_fields: list[tuple[int, str | None, int | None]]


def _store(session: Session, writes: _Writes) -> tuple[MessageView | None, MessageView]:
    """The write phase, as plain synchronous code (see `db.one_hop`)."""
    added = 1 if writes.question is None else 2
    now = utcnow()
    direct = session.get_bind().dialect.name == "sqlite"  # on the event loop: see db.direct
    if writes.new_conversation is not None:
        writes.new_conversation.message_count = added
        writes.new_conversation.last_message_at = now
        if direct:
            insert_row(session, writes.new_conversation)
        else:
            session.add(writes.new_conversation)
    else:
        session.execute(
            update(Conversation)
            .where(Conversation.id == writes.conversation_id)
            .values(message_count=Conversation.message_count + added, last_message_at=now)
        )
    for message_id, group, index in writes.retry_fields:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(retry_group_id=group, retry_index=index)
        )
    new = [m for m in (writes.question, writes.answer) if m is not None]
    for message in new:
        if direct:
            message.id = insert_row(session, message)
        else:
            session.add(message)
    if not direct:
        session.flush()
    question = view(writes.question) if writes.question is not None else None
    return question, view(writes.answer)


async def prepare_turn(
    request: TurnRequest, begin: Callable[[str, list[ChatMessage]], None] | None = None
) -> PreparedTurn:
    """Reads, then `begin(conversation_id, context)`, then writes: the model call starts while
    the new messages are being stored, so their insert is off the time to first token. The
    caller still waits for the commit before anything reaches the client."""
    async with session_factory()() as session:
        with session.no_autoflush:
            conversation, created = await _conversation(session, request)
            group: str | None = None
            index: int | None = None
            touched: list[Message] = []
            question: Message | None = None
            if request.retry is not None:
                question, group, index, touched = await _prepare_retry(
                    session, conversation, request.retry
                )
            rows = [] if created else await repository.messages(session, conversation.id)
            earlier = [m for m in rows if question is None or m.id < question.id]
            # Views now: the read session ends without writing, and the writes happen elsewhere.
            question_view = view(question) if question is not None else None
            touched_views = [view(m) for m in touched]
            retry_fields = [(m.id, m.retry_group_id, m.retry_index) for m in touched]
            conversation_id = conversation.id
    content = question_view.content if question_view is not None else request.message
    context = build_context(
        request.system_prompt,
        chat_history(earlier),
        ChatMessage(role="user", content=content),
        budget_tokens=request.model.context_window,
        reserve_output_tokens=request.model.max_tokens or 1024,
    )
    if begin is not None:
        begin(conversation_id, context)
        # Let the model request go out before the write below, which may hold the event loop.
        for _ in range(YIELDS_BEFORE_WRITE):
            await asyncio.sleep(0)
    writes = _Writes(
        conversation_id=conversation_id,
        new_conversation=conversation if created else None,
        question=None
        if question_view is not None
        else Message(
            uid=new_id(), conversation_id=conversation_id, role="user", content=request.message
        ),
        answer=Message(
            uid=new_id(),
            conversation_id=conversation_id,
            role="assistant",
            status="streaming",
            model=request.model.model_name[:200],
            retry_group_id=group,
            retry_index=index,
        ),
        retry_fields=retry_fields,
    )
    stored_question, answer_view = await one_hop.write(lambda sync: _store(sync, writes))
    user_view = stored_question or question_view
    assert user_view is not None
    return PreparedTurn(
        conversation_id=conversation_id,
        created=created,
        user_message=user_view,
        assistant=answer_view,
        touched=[m for m in touched_views if m.id != user_view.id],
        context=context,
    )
