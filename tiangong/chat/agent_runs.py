"""/agents/{id}/execute and /agents/{id}/preview-chat-history: agent endpoints that need chat.

They live here, not in tiangong.agents, so the agents module does not depend on chat.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from tiangong.agents.service import get_visible
from tiangong.auth.deps import CurrentUser
from tiangong.chat import service
from tiangong.chat.schemas import MAX_MESSAGE, ChatRequest
from tiangong.conversations import history, repository
from tiangong.conversations.models import Conversation
from tiangong.conversations.schemas import ConversationView, MessageView
from tiangong.db.session import SessionDep
from tiangong.errors import NotFound

router = APIRouter(prefix="/agents", tags=["agents"])

# Multi-agent modes are listed in the reference; they arrive with the orchestration engine.
_MULTI_AGENT_MODES = {"sequential", "pipeline", "debate", "graph"}


class AgentExecuteRequest(BaseModel):
    mode: str = "agent"
    input: str = Field(min_length=1, max_length=MAX_MESSAGE)
    session_id: str | None = Field(default=None, max_length=36)

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        if value in _MULTI_AGENT_MODES:
            raise ValueError(f"mode '{value}' needs the multi-agent engine; supported now: agent")
        if value != "agent":
            raise ValueError(f"unknown mode '{value}'; supported: agent")
        return value


class AgentExecuteResult(BaseModel):
    mode: str
    agent_id: str
    session_id: str
    status: str
    output: str
    message_id: int | None
    reasoning_content: str
    token_usage: dict[str, Any]
    tool_calls: list[dict[str, Any]]
    duration_ms: float


class PreviewHistory(BaseModel):
    agent_id: str
    session_id: str | None
    sessions: list[ConversationView]
    messages: list[MessageView]


@router.post("/{agent_id}/execute", response_model=AgentExecuteResult)
async def execute_agent(
    agent_id: str, data: AgentExecuteRequest, session: SessionDep, user: CurrentUser
) -> AgentExecuteResult:
    started = time.perf_counter()
    chat = ChatRequest(message=data.input, session_id=data.session_id)
    turn = await service.start_agent_turn(session, user, agent_id, chat)
    final = await turn.result()
    reply = service.reply(turn, final, agent_id, streamlined=False)
    return AgentExecuteResult(
        mode=data.mode,
        agent_id=agent_id,
        session_id=reply.session_id,
        status=final.status,
        output=final.content,
        message_id=final.id,
        reasoning_content=final.reasoning_content,
        token_usage=final.token_usage or {},
        tool_calls=final.tool_calls or [],
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


@router.get("/{agent_id}/preview-chat-history", response_model=PreviewHistory)
async def preview_chat_history(
    agent_id: str,
    session: SessionDep,
    user: CurrentUser,
    session_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PreviewHistory:
    """The caller's recent sessions with this agent, and the messages of one (default: latest)."""
    agent = await get_visible(session, user, agent_id)
    stmt = (
        select(Conversation)
        .where(Conversation.user_id == user.id, Conversation.agent_id == agent.id)
        .order_by(Conversation.last_message_at.desc(), Conversation.created_at.desc())
        .limit(20)
    )
    sessions = list((await session.execute(stmt)).scalars())
    chosen = sessions[0].id if sessions and session_id is None else session_id
    messages: list[MessageView] = []
    if chosen is not None:
        found = await repository.get_owned(session, user.id, chosen)
        if found is None or found.agent_id != agent.id:
            raise NotFound("Session not found for this agent", code="SESSION_NOT_FOUND")
        messages, _ = await history.read(session, chosen)
    return PreviewHistory(
        agent_id=agent.id,
        session_id=chosen,
        sessions=[ConversationView.model_validate(s) for s in sessions],
        messages=messages[-limit:],
    )
