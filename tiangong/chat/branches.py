"""Conversation branches: a new conversation that copies another up to a message."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.auth.models import User
from tiangong.chat.schemas import BranchCreate, BranchDetail, BranchList, BranchRead
from tiangong.conversations import history, repository
from tiangong.conversations.models import Conversation, Message
from tiangong.db.base import new_id
from tiangong.errors import NotFound


def _read(branch: Conversation) -> BranchRead:
    return BranchRead(
        id=branch.id,
        session_id=branch.id,
        parent_session_id=branch.parent_id,
        fork_message_id=branch.fork_message_id,
        name=branch.branch_name,
        agent_id=branch.agent_id,
        message_count=branch.message_count,
        created_at=branch.created_at,
    )


async def _owned_branch(session: AsyncSession, user: User, branch_id: str) -> Conversation:
    branch = await repository.get_owned(session, user.id, branch_id)
    # fork_message_id marks a branch; parent_id is lost if the parent is deleted.
    if branch is None or branch.fork_message_id is None:
        raise NotFound("Branch not found", code="BRANCH_NOT_FOUND")
    return branch


async def create(session: AsyncSession, user: User, data: BranchCreate) -> BranchRead:
    source = await repository.get_owned(session, user.id, data.session_id)
    if source is None:
        raise NotFound("Session not found", code="SESSION_NOT_FOUND")
    fork = await repository.message_in(session, source.id, data.message_id)
    if fork is None:
        raise NotFound("Message not found in this session", code="MESSAGE_NOT_FOUND")
    kept = [
        m
        for m in await repository.messages(session, source.id)
        if m.id <= fork.id and m.status != "streaming"
    ]
    branch = Conversation(
        user_id=user.id,
        agent_id=source.agent_id,
        source=source.source,
        title=source.title,
        has_title=source.has_title,
        model_ref=source.model_ref,
        parent_id=source.id,
        fork_message_id=fork.id,
        branch_name=data.name or f"{source.title[:60]} @ {fork.id}",
        message_count=len(kept),
        last_message_at=kept[-1].created_at if kept else None,
    )
    session.add(branch)
    await session.flush()
    for message in kept:
        session.add(
            Message(
                uid=new_id(),
                conversation_id=branch.id,
                role=message.role,
                content=message.content,
                reasoning_content=message.reasoning_content,
                reasoning_duration_seconds=message.reasoning_duration_seconds,
                status=message.status,
                error=message.error,
                model=message.model,
                retry_group_id=message.retry_group_id,
                retry_index=message.retry_index,
                token_usage=message.token_usage,
                tool_calls=message.tool_calls,
                citations=message.citations,
                created_at=message.created_at,
            )
        )
    await session.flush()
    return _read(branch)


async def list_branches(session: AsyncSession, user: User, session_id: str | None) -> BranchList:
    stmt = select(Conversation).where(
        Conversation.user_id == user.id, Conversation.fork_message_id.is_not(None)
    )
    if session_id:
        stmt = stmt.where(Conversation.parent_id == session_id)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.execute(stmt.order_by(Conversation.created_at.desc()).limit(200))
    return BranchList(items=[_read(b) for b in rows.scalars()], total=int(total))


async def detail(session: AsyncSession, user: User, branch_id: str) -> BranchDetail:
    branch = await _owned_branch(session, user, branch_id)
    messages, _ = await history.read(session, branch.id)
    return BranchDetail(**_read(branch).model_dump(), messages=messages)


async def delete(session: AsyncSession, user: User, branch_id: str) -> None:
    branch = await _owned_branch(session, user, branch_id)
    await session.delete(branch)
    await session.flush()
    await history.forget(branch.id)


async def get(session: AsyncSession, user: User, branch_id: str) -> Conversation:
    return await _owned_branch(session, user, branch_id)
