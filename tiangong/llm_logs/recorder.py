"""Turns the LLM client's per-call records into llm_call_logs rows."""

from __future__ import annotations

import asyncio
import logging

from tiangong.db import one_hop
from tiangong.llm_logs.models import LLMCallLog
from tiangong.runtime.llm import LLMCallRecord, OnCall

log = logging.getLogger(__name__)
_pending: set[asyncio.Task[None]] = set()


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
        # Detached, so the end of a stream never waits on this insert.
        task = asyncio.get_running_loop().create_task(_insert(row))
        _pending.add(task)
        task.add_done_callback(_pending.discard)

    return record


async def _insert(row: LLMCallLog) -> None:
    try:
        await one_hop.write(lambda session: session.add(row))
    except Exception:
        log.exception("could not record an LLM call")


async def flush() -> None:
    """Wait for call-log rows still being written (shutdown, tests)."""
    if _pending:
        await asyncio.wait(set(_pending), timeout=5)
