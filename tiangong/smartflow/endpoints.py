"""The SmartFlow chat contract (shared/specs/smartflow-openapi.yaml): /api/v1/agent/*.

The SSE format of /agent/chat is documented in docs/smartflow-sse.md.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tiangong.agents.service import get_visible
from tiangong.api.lean_route import lean_post
from tiangong.auth.deps import CurrentUser
from tiangong.chat.sse import EventStream, turn_response
from tiangong.conversations import history, repository
from tiangong.conversations.turns import RetryRequest, TurnRequest, start_turn
from tiangong.db.session import SessionDep, commit_if_open
from tiangong.errors import BadRequest, NotFound
from tiangong.model_configs.service import resolve
from tiangong.smartflow.envelope import ok
from tiangong.smartflow.schemas import (
    AgentChatRequest,
    ConversationHistoryItem,
    ConversationListItem,
    ConversationListResponse,
    Envelope,
)

router = APIRouter(prefix="/agent", tags=["smartflow"])

PageSize = Annotated[int | None, Query(ge=1, le=100)]


def _retry(data: AgentChatRequest) -> RetryRequest | None:
    extra = data.extra
    if extra.request_mode in (None, "", "normal"):
        return None
    if extra.request_mode != "retry":
        raise BadRequest(f"unknown request_mode '{extra.request_mode}'", code="VALIDATION_ERROR")
    if data.conversation_id is None:
        raise BadRequest("a retry needs conversation_id", code="MISSING_PARAMETER")
    return RetryRequest(
        group_id=extra.retry_group_id,
        user_message_id=extra.retry_from_user_message_id,
        assistant_message_id=extra.retry_from_assistant_message_id,
    )


@lean_post(router, "/chat", summary="流式聊天回复")
async def chat(data: AgentChatRequest, session: SessionDep, user: CurrentUser) -> EventStream:
    retry = _retry(data)
    conversation_id = str(data.conversation_id) if data.conversation_id else None
    # Ownership first: another user's conversation is "unknown", whatever else is wrong.
    if conversation_id and await repository.get_owned(session, user.id, conversation_id) is None:
        raise NotFound("conversation not found", code="CONVERSATION_NOT_FOUND")
    system_prompt, agent_id = None, None
    if data.extra.agent_id:
        agent = await get_visible(session, user, data.extra.agent_id)
        system_prompt, agent_id = agent.system_prompt or None, agent.id
    model = await resolve(session, user, data.model)
    await commit_if_open(session)
    turn = await start_turn(
        TurnRequest(
            user_id=user.id,
            message=data.message,
            model=model,
            source="smartflow",
            conversation_id=conversation_id,
            agent_id=agent_id,
            system_prompt=system_prompt,
            thinking=data.thinking,
            retry=retry,
            stage_reasoning=True,
        )
    )
    meta = {
        "conversation_id": turn.conversation_id,
        "conversation_created": turn.conversation_created,
        "user_message_id": turn.user_message.id,
        "assistant_message_id": turn.assistant.id,
        "retry_group_id": turn.assistant.retry_group_id,
        "retry_index": turn.assistant.retry_index,
    }
    return turn_response(("meta", meta), turn, skip=set())


@router.get("/conversation-list", response_model=Envelope, summary="获取会话列表")
async def conversation_list(
    session: SessionDep,
    user: CurrentUser,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: PageSize = None,
    limit: PageSize = None,
    status: Annotated[str | None, Query(pattern="^(active|archived)$")] = None,
) -> dict[str, Any]:
    size = page_size or limit or 20
    rows, total = await repository.list_owned(
        session,
        user.id,
        sources=("smartflow",),
        status=status,
        offset=(page - 1) * size,
        limit=size,
    )
    items = [
        ConversationListItem(
            conversation_id=row.id,
            title=row.title,
            has_title=row.has_title,
            message_count=row.message_count,
            last_message_at=row.last_message_at,
            status=row.status,
            created_at=row.created_at,
        )
        for row in rows
    ]
    listing = ConversationListResponse(
        list=items,
        page=page,
        page_size=size,
        limit=size,
        total=total,
        has_more=page * size < total,
    )
    return ok(listing.model_dump(mode="json"))


@router.get("/conversation-history", response_model=Envelope, summary="获取会话历史")
async def conversation_history(
    session: SessionDep, user: CurrentUser, conversation_id: Annotated[uuid.UUID, Query()]
) -> dict[str, Any]:
    # Ownership first; only then the cache, then the database.
    if await repository.get_owned(session, user.id, str(conversation_id)) is None:
        raise NotFound("conversation not found", code="CONVERSATION_NOT_FOUND")
    messages, _source = await history.read(session, str(conversation_id))
    items = [
        ConversationHistoryItem(
            id=m.id,
            role=m.role,
            content=m.content,
            created_at=m.created_at,
            reasoning_content=m.reasoning_content,
            reasoning_duration_seconds=m.reasoning_duration_seconds,
            retry_group_id=m.retry_group_id,
            retry_index=m.retry_index,
            retry_total=m.retry_total,
        ).model_dump(mode="json")
        for m in messages
        if m.role in ("user", "assistant", "system")
    ]
    return ok(items)
