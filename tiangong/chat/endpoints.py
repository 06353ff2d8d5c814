"""/agent-chat: chat with an agent or with the default model, as JSON or as SSE."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tiangong.api.lean_route import lean_post
from tiangong.auth.deps import CurrentUser
from tiangong.chat import branches, service
from tiangong.chat.schemas import (
    BareChatRequest,
    BranchCreate,
    BranchDetail,
    BranchList,
    BranchRead,
    BranchResume,
    ChatReply,
    ChatRequest,
)
from tiangong.chat.sse import EventStream, turn_response
from tiangong.conversations.turns import Turn
from tiangong.db.session import SessionDep

router = APIRouter(prefix="/agent-chat", tags=["agent-chat"])

# Reasoning and tool progress are left out of streamlined streams.
_STREAMLINED_SKIP = {"reasoning", "tool_call", "tool_result"}


def _stream(turn: Turn, agent_id: str | None, streamlined: bool) -> EventStream:
    session_event = {
        "session_id": turn.conversation_id,
        "agent_id": agent_id,
        "user_message_id": turn.user_message.id,
        "message_id": turn.assistant.id,
    }
    skip = _STREAMLINED_SKIP if streamlined else set()
    return turn_response(("session", session_event), turn, skip=skip)


# Fixed paths first: /bare and /branches must not be taken for an agent id.
@router.post("/bare", response_model=ChatReply, response_model_exclude_none=True)
async def bare_chat(data: BareChatRequest, session: SessionDep, user: CurrentUser) -> ChatReply:
    turn = await service.start_bare_turn(session, user, data)
    return service.reply(turn, await turn.result(), None, data.streamlined)


@lean_post(router, "/bare/stream")
async def bare_chat_stream(
    data: BareChatRequest, session: SessionDep, user: CurrentUser
) -> EventStream:
    turn = await service.start_bare_turn(session, user, data)
    return _stream(turn, None, data.streamlined)


@router.post("/branches", response_model=BranchRead, status_code=201)
async def create_branch(data: BranchCreate, session: SessionDep, user: CurrentUser) -> BranchRead:
    return await branches.create(session, user, data)


@router.get("/branches", response_model=BranchList)
async def list_branches(
    session: SessionDep,
    user: CurrentUser,
    session_id: Annotated[str | None, Query(max_length=36)] = None,
) -> BranchList:
    return await branches.list_branches(session, user, session_id)


@router.get("/branches/{branch_id}", response_model=BranchDetail)
async def get_branch(branch_id: str, session: SessionDep, user: CurrentUser) -> BranchDetail:
    return await branches.detail(session, user, branch_id)


@router.delete("/branches/{branch_id}", status_code=204)
async def delete_branch(branch_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await branches.delete(session, user, branch_id)
    return Response(status_code=204)


@router.post("/branches/{branch_id}/resume", response_model=None)
async def resume_branch(
    branch_id: str, data: BranchResume, session: SessionDep, user: CurrentUser
) -> BranchDetail | ChatReply:
    """Without a message: the branch and its history. With one: continue the chat on it."""
    branch = await branches.get(session, user, branch_id)
    if data.message is None:
        return await branches.detail(session, user, branch_id)
    chat = ChatRequest(message=data.message, session_id=branch.id, streamlined=data.streamlined)
    if branch.agent_id:
        turn = await service.start_agent_turn(session, user, branch.agent_id, chat)
    else:
        turn = await service.start_bare_turn(session, user, BareChatRequest(**chat.model_dump()))
    return service.reply(turn, await turn.result(), branch.agent_id, data.streamlined)


@router.post("/{agent_id}", response_model=ChatReply, response_model_exclude_none=True)
async def agent_chat(
    agent_id: str, data: ChatRequest, session: SessionDep, user: CurrentUser
) -> ChatReply:
    turn = await service.start_agent_turn(session, user, agent_id, data)
    return service.reply(turn, await turn.result(), agent_id, data.streamlined)


@lean_post(router, "/{agent_id}/stream")
async def agent_chat_stream(
    agent_id: str, data: ChatRequest, session: SessionDep, user: CurrentUser
) -> EventStream:
    turn = await service.start_agent_turn(session, user, agent_id, data)
    return _stream(turn, agent_id, data.streamlined)
