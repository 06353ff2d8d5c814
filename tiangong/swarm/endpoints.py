"""/swarm: run several agents on one task, as JSON or as server-sent events (docs/swarm-sse.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from tiangong.auth.deps import CurrentUser
from tiangong.chat.sse import HEADERS, frame
from tiangong.db.session import SessionDep
from tiangong.swarm import service as swarm
from tiangong.swarm.schemas import SwarmRunRequest, SwarmRunResult

log = logging.getLogger(__name__)

router = APIRouter(prefix="/swarm", tags=["swarm"])


@router.post("/run", response_model=SwarmRunResult)
async def run_swarm(
    data: SwarmRunRequest, session: SessionDep, user: CurrentUser
) -> SwarmRunResult:
    """Every agent's contribution, the final answer and the summed token usage. A failing agent
    is a failed contribution; the run fails (status "failed", still 200) only without an answer."""
    return await swarm.run(await swarm.plan(session, user, data))


@router.post("/run/stream")
async def run_swarm_stream(
    data: SwarmRunRequest, session: SessionDep, user: CurrentUser
) -> StreamingResponse:
    plan = await swarm.plan(session, user, data)
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

    def emit(event: str, payload: dict[str, Any]) -> None:
        queue.put_nowait((event, payload))

    async def drive() -> None:
        try:
            result = await swarm.run(plan, emit)
        except Exception as exc:
            log.exception("swarm run %s crashed", plan.run_id)
            emit("error", {"code": "INTERNAL_ERROR", "message": type(exc).__name__})
        else:
            body = result.model_dump(mode="json")
            if result.status == "failed":
                emit("error", {"code": "SWARM_FAILED", "message": result.error, "result": body})
            else:
                emit(
                    "final",
                    {"final_answer": result.final_answer, "agent_id": result.synthesizer_agent_id},
                )
                emit("done", body)
        finally:
            queue.put_nowait(None)

    async def body() -> AsyncIterator[str]:
        task = asyncio.get_running_loop().create_task(drive())
        try:
            yield frame(
                "start",
                {
                    "run_id": plan.run_id,
                    "mode": data.mode,
                    "agent_ids": [m.id for m in plan.members],
                },
            )
            while (item := await queue.get()) is not None:
                yield frame(*item)
        finally:
            # A client that leaves stops the swarm; steps already running finish and are saved.
            task.cancel()

    return StreamingResponse(body(), media_type="text/event-stream", headers=HEADERS)
