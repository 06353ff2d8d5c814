"""Bindings between Feishu open_ids and users, each user's default agent, and the status page.

A binding another user owns is "not found" to a non-admin, so open_ids cannot be probed,
except when binding: an open_id someone else holds is a 409, because the caller must learn
why their request cannot go through.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.models import Agent
from tiangong.agents.service import get_visible
from tiangong.auth import repository as users
from tiangong.auth.models import User
from tiangong.config import get_settings
from tiangong.db.base import utcnow
from tiangong.errors import Conflict, NotFound
from tiangong.feishu import repository
from tiangong.feishu.models import FeishuBinding, FeishuDefaultAgent
from tiangong.feishu.schemas import (
    AgentSource,
    BindDecision,
    BindingCounts,
    BindingList,
    BindingLookup,
    BindingRead,
    BindRequest,
    DefaultAgentRead,
    DefaultAgentSet,
    FeishuStatus,
    UnbindRequest,
)


def _binding_not_found() -> NotFound:
    return NotFound("Feishu binding not found", code="FEISHU_BINDING_NOT_FOUND")


def _approve(row: FeishuBinding, admin: User) -> None:
    row.status = "active"
    row.approved_by = admin.id
    row.approved_at = utcnow()


async def bind(session: AsyncSession, user: User, data: BindRequest) -> tuple[BindingRead, bool]:
    """The binding and whether it was created. Non-admins get a pending binding of their own."""
    target_id = data.user_id or user.id
    if target_id != user.id:
        target = await users.get_by_id(session, target_id) if user.is_admin else None
        if target is None:
            raise NotFound("User not found", code="USER_NOT_FOUND")
    existing = await repository.binding_by_open_id(session, data.open_id)
    if existing is not None:
        if existing.user_id != target_id:
            raise Conflict(
                "This Feishu account is already bound to another user",
                code="FEISHU_OPEN_ID_TAKEN",
            )
        if user.is_admin and existing.status == "pending":
            _approve(existing, user)
            await session.flush()
        return BindingRead.model_validate(existing), False
    if await repository.binding_of_user(session, target_id) is not None:
        raise Conflict(
            "This user already has a Feishu binding; unbind it first", code="FEISHU_ALREADY_BOUND"
        )
    row = FeishuBinding(open_id=data.open_id, user_id=target_id, status="pending")
    if user.is_admin:
        _approve(row, user)
    await repository.add(session, row)
    return BindingRead.model_validate(row), True


async def _visible_binding(session: AsyncSession, user: User, open_id: str) -> FeishuBinding:
    row = await repository.binding_by_open_id(session, open_id)
    if row is None or (row.user_id != user.id and not user.is_admin):
        raise _binding_not_found()
    return row


async def unbind(session: AsyncSession, user: User, data: UnbindRequest) -> BindingRead:
    if data.open_id is None:
        row = await repository.binding_of_user(session, user.id)
        if row is None:
            raise _binding_not_found()
    else:
        row = await _visible_binding(session, user, data.open_id)
    read = BindingRead.model_validate(row)
    await repository.delete(session, row)
    return read


async def lookup(session: AsyncSession, user: User, open_id: str) -> BindingLookup:
    row = await _visible_binding(session, user, open_id)
    owner = await users.get_by_id(session, row.user_id)
    read = BindingLookup.model_validate(row)
    if owner is not None:
        read.nickname, read.email = owner.nickname, owner.email
    return read


async def pending(session: AsyncSession, *, page: int, page_size: int) -> BindingList:
    rows, total = await repository.with_users(
        session, status="pending", offset=(page - 1) * page_size, limit=page_size
    )
    items = [
        BindingLookup.model_validate(b).model_copy(
            update={"nickname": u.nickname, "email": u.email}
        )
        for b, u in rows
    ]
    return BindingList(items=items, total=total, page=page, page_size=page_size)


async def decide(session: AsyncSession, admin: User, data: BindDecision) -> BindingRead:
    row = await repository.binding_by_open_id(session, data.open_id)
    if row is None or row.status != "pending":
        raise NotFound("No pending binding for this open_id", code="FEISHU_BINDING_NOT_FOUND")
    if data.action == "reject":
        # Rejected bindings are removed, so the open_id can be asked for again (correctly).
        read = BindingRead.model_validate(row).model_copy(update={"status": "rejected"})
        await repository.delete(session, row)
        return read
    _approve(row, admin)
    await session.flush()
    return BindingRead.model_validate(row)


async def status(session: AsyncSession, user: User) -> FeishuStatus:
    settings = get_settings()
    counts = await repository.counts(session)
    mine = await repository.binding_of_user(session, user.id)
    return FeishuStatus(
        configured=bool(
            settings.feishu_app_id
            and settings.feishu_app_secret
            and settings.feishu_verification_token
        ),
        app_id_set=bool(settings.feishu_app_id),
        app_secret_set=bool(settings.feishu_app_secret),
        verification_token_set=bool(settings.feishu_verification_token),
        encrypt_key_set=bool(settings.feishu_encrypt_key),
        global_default_agent_set=bool(settings.feishu_default_agent_id),
        bindings=BindingCounts(active=counts.get("active", 0), pending=counts.get("pending", 0)),
        my_binding=BindingRead.model_validate(mine) if mine else None,
    )


async def effective_agent(session: AsyncSession, user: User) -> tuple[Agent | None, AgentSource]:
    """The agent answering the user's Feishu messages and where the choice came from."""
    chosen = await repository.default_agent(session, user.id)
    # Visibility is checked again at use: an admin who chose another's agent may have lost the role.
    if chosen is not None and (agent := await _visible_agent(session, user, chosen.agent_id)):
        return agent, "user"
    global_id = get_settings().feishu_default_agent_id
    if global_id and (agent := await _visible_agent(session, user, global_id)):
        return agent, "global"
    return None, "none"


async def _visible_agent(session: AsyncSession, user: User, agent_id: str) -> Agent | None:
    try:
        return await get_visible(session, user, agent_id)
    except NotFound:
        return None


async def get_default_agent(session: AsyncSession, user: User) -> DefaultAgentRead:
    agent, source = await effective_agent(session, user)
    return DefaultAgentRead(
        agent_id=agent.id if agent else None,
        agent_name=agent.name if agent else None,
        source=source,
    )


async def set_default_agent(
    session: AsyncSession, user: User, data: DefaultAgentSet
) -> DefaultAgentRead:
    row = await repository.default_agent(session, user.id)
    if data.agent_id is None:
        if row is not None:
            await repository.delete(session, row)
        return await get_default_agent(session, user)
    agent = await get_visible(session, user, data.agent_id)
    if row is None:
        await repository.add(session, FeishuDefaultAgent(user_id=user.id, agent_id=agent.id))
    else:
        row.agent_id = agent.id
        await session.flush()
    return DefaultAgentRead(agent_id=agent.id, agent_name=agent.name, source="user")
