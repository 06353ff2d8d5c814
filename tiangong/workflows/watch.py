"""Watching a run live: WebSocket `/ws/executions/{id}` and SSE `/executions/{id}/events`.

Both subscribe to the run's channel first, then send a snapshot from the database (the run and
its node runs so far), then every event published for the run, from whichever process runs it.
So nothing is missed between the snapshot and the live events; an event may appear both in the
snapshot and live. The stream ends after the run's final event (finished, failed, cancelled), or
right after the snapshot of a run that had already ended. A paused run keeps the stream open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from tiangong.auth import repository as auth_repository
from tiangong.auth.models import User
from tiangong.bus import subscribe
from tiangong.chat.sse import HEADERS, frame
from tiangong.db.engine import session_factory
from tiangong.errors import NotFound, Unauthorized
from tiangong.security.tokens import decode_access_token
from tiangong.workflows import details, repository, runner

router = APIRouter(tags=["workflow executions"])

ENDED = frozenset({"succeeded", "failed", "cancelled"})
FINAL_EVENTS = frozenset({"run_finished", "run_failed", "run_cancelled"})
# After this long without an event the stream re-reads the run (a final event lost with a
# crashed worker must not keep watchers forever) and SSE sends a keepalive comment.
IDLE_S = 10.0
TokenQuery = Annotated[str | None, Query(max_length=4_000)]
AuthHeader = Annotated[str | None, Header(max_length=4_000)]


def _token(authorization: str | None, token: str | None) -> str | None:
    """`?token=` (browsers cannot set headers on WebSocket or EventSource) or the header."""
    if token:
        return token
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def _user(token: str | None) -> User:
    if not token:
        raise Unauthorized("Missing bearer token", code="NOT_AUTHENTICATED")
    user_id = decode_access_token(token)
    async with session_factory()() as session:
        user = await auth_repository.get_by_id(session, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("Invalid token", code="INVALID_TOKEN")
    return user


async def _snapshot(user: User, run_id: str) -> dict[str, Any] | None:
    async with session_factory()() as session:
        run = await repository.get_run(session, user, run_id)
        if run is None:
            return None
        detail = await details.run_detail(session, run)
    return {"type": "snapshot", "run_id": run_id, **detail.model_dump(mode="json")}


async def _visible(user: User, run_id: str) -> None:
    async with session_factory()() as session:
        if await repository.get_run(session, user, run_id) is None:
            raise NotFound("Run not found", code="WORKFLOW_RUN_NOT_FOUND")


async def frames(user: User, run_id: str) -> AsyncGenerator[dict[str, Any] | None, None]:
    """The snapshot, then live events; None when idle for IDLE_S (a keepalive tick)."""
    async with subscribe(runner.channel(run_id)) as events:
        snapshot = await _snapshot(user, run_id)
        if snapshot is None:
            raise NotFound("Run not found", code="WORKFLOW_RUN_NOT_FOUND")
        yield snapshot
        if snapshot["status"] in ENDED:
            return
        while True:
            event = await events.get(wait_s=IDLE_S)
            if event is None:
                snapshot = await _snapshot(user, run_id)
                if snapshot is None or snapshot["status"] in ENDED:
                    if snapshot is not None:
                        yield snapshot
                    return
                yield None
                continue
            yield event
            if event.get("type") in FINAL_EVENTS:
                return


@router.websocket("/ws/executions/{run_id}")
async def watch_ws(
    websocket: WebSocket, run_id: str, token: TokenQuery = None, authorization: AuthHeader = None
) -> None:
    """Close codes: 1000 when the run has ended, 4401 without a valid token, 4404 for a run
    that does not exist or is another user's."""
    await websocket.accept()
    try:
        user = await _user(_token(authorization, token))
    except Unauthorized as exc:
        await _close(websocket, 4401, exc.code)
        return
    # Only a reader notices the client leaving; it runs beside the stream.
    left = asyncio.create_task(_until_disconnect(websocket))
    try:
        async with contextlib.aclosing(frames(user, run_id)) as stream:
            async for item in stream:
                if left.done():
                    return
                if item is not None:
                    await websocket.send_text(json.dumps(item, ensure_ascii=False))
        await _close(websocket, 1000)
    except NotFound:
        await _close(websocket, 4404, "WORKFLOW_RUN_NOT_FOUND")
    finally:
        left.cancel()


async def _close(websocket: WebSocket, code: int, reason: str | None = None) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # the client left first
        await websocket.close(code=code, reason=reason)


async def _until_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


@router.get("/executions/{run_id}/events")
async def watch_sse(
    run_id: str, token: TokenQuery = None, authorization: AuthHeader = None
) -> StreamingResponse:
    """The same frames as the WebSocket, as server-sent events (`event: <type>`), with a
    keepalive comment when idle. Auth: bearer header or `?token=`."""
    user = await _user(_token(authorization, token))
    await _visible(user, run_id)

    async def body() -> AsyncIterator[str]:
        async with contextlib.aclosing(frames(user, run_id)) as stream:
            async for item in stream:
                yield ": keepalive\n\n" if item is None else frame(str(item.get("type")), item)

    return StreamingResponse(body(), media_type="text/event-stream", headers=HEADERS)
