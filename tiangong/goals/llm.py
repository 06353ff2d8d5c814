"""The model a goal plans and talks with: its agent's model, else the owner's default."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents import repository as agents
from tiangong.auth.models import User
from tiangong.chat.service import agent_model
from tiangong.llm_logs.recorder import recorder
from tiangong.model_configs.service import ResolvedModel, resolve
from tiangong.runtime.llm import ChatMessage, ChatParams
from tiangong.runtime.llm.types import Role


async def goal_model(session: AsyncSession, user: User, agent_id: str | None) -> ResolvedModel:
    agent = await agents.get_visible(session, user, agent_id) if agent_id else None
    if agent is not None:
        return await agent_model(session, user, agent)
    return await resolve(session, user)


async def complete(
    model: ResolvedModel,
    user_id: str,
    agent_id: str | None,
    messages: Sequence[tuple[Role, str]],
) -> str:
    """One answer from the model; call it with no transaction open."""
    params = ChatParams(
        model=model.model_name, temperature=model.temperature, max_tokens=model.max_tokens
    )
    chat = [ChatMessage(role=role, content=content) for role, content in messages]
    async with model.client(on_call=recorder(user_id=user_id, agent_id=agent_id)) as client:
        return (await client.chat(chat, params)).text
