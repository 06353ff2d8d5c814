"""Turns the LLM client's per-call records into llm_call_logs rows."""

from __future__ import annotations

import logging

from tiangong.db.engine import session_factory
from tiangong.llm_logs.models import LLMCallLog
from tiangong.runtime.llm import LLMCallRecord, OnCall

log = logging.getLogger(__name__)


def recorder(
    *, user_id: str | None, agent_id: str | None = None, conversation_id: str | None = None
) -> OnCall:
    async def record(call: LLMCallRecord) -> None:
        row = LLMCallLog(
            user_id=user_id,
            agent_id=agent_id,
            conversation_id=conversation_id,
            model=call.model[:200],
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            reasoning_tokens=call.reasoning_tokens,
            ttft_ms=call.ttft_ms,
            latency_ms=call.latency_ms,
            outcome=call.outcome,
            error_code=call.error_code,
        )
        # Its own short transaction: the chat's transaction is long closed by now.
        try:
            async with session_factory()() as session:
                session.add(row)
                await session.commit()
        except Exception:
            log.exception("could not record an LLM call")

    return record
