"""The answer to one Feishu message: the bound user's agent (or default model) replies.

Messages from one Feishu account continue one conversation, so the agent sees the chat so far;
a new conversation starts when the default agent changes or the old one was deleted.
"""

from __future__ import annotations

from sqlalchemy import update

from tiangong.auth.models import User
from tiangong.chat import service as chat
from tiangong.chat.schemas import BareChatRequest, ChatRequest
from tiangong.conversations import repository as conversations
from tiangong.db.engine import session_factory
from tiangong.errors import AppError
from tiangong.feishu import repository, service
from tiangong.feishu.models import FeishuBinding

UNBOUND = (
    "你的飞书账号还没有绑定天工账号。请登录天工，调用 POST /api/v1/feishu/bind，"
    'body 为 {{"open_id": "{open_id}"}}，管理员审批后即可对话。'
)
PENDING = "你的绑定申请正在等待管理员审批，审批通过后即可对话。"
NOT_TEXT = "目前只支持文本消息。"


async def reply_for(open_id: str, text: str) -> str:
    async with session_factory()() as session:
        binding = await repository.binding_by_open_id(session, open_id)
        user = await session.get(User, binding.user_id) if binding is not None else None
        if binding is None or user is None or not user.is_active:
            return UNBOUND.format(open_id=open_id)
        if binding.status != "active":
            return PENDING
        if not text:
            return NOT_TEXT
        agent, _ = await service.effective_agent(session, user)
        agent_id = agent.id if agent is not None else None
        previous = binding.conversation_id
        found = await conversations.get_owned(session, user.id, previous) if previous else None
        session_id = found.id if found is not None and found.agent_id == agent_id else None
        try:
            # Both commit before the model runs: no transaction stays open while it answers.
            if agent_id is not None:
                request = ChatRequest(message=text, session_id=session_id)
                turn = await chat.start_agent_turn(
                    session, user, agent_id, request, source="feishu"
                )
            else:
                bare = BareChatRequest(message=text, session_id=session_id)
                turn = await chat.start_bare_turn(session, user, bare)
        except AppError as exc:
            return f"抱歉，无法回答：{exc.message}"
    final = await turn.result()
    if turn.conversation_id != previous:
        async with session_factory()() as session:
            await session.execute(
                update(FeishuBinding)
                .where(FeishuBinding.id == binding.id)
                .values(conversation_id=turn.conversation_id)
            )
            await session.commit()
    if final.status == "failed":
        return f"抱歉，回答失败：{final.error or '模型调用失败'}"
    return final.content or "（没有回答）"
