"""Server-sent events: one `event:` line and one JSON `data:` line per event, no buffering."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from tiangong.conversations.turns import Turn

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def frame(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


class EventStream(StreamingResponse):
    """A StreamingResponse without the task group Starlette starts to watch for a disconnect.

    A turn's stream needs no watching: the turn runs to its end whether or not anyone reads it
    (that is its durability), and after a disconnect the server drops what is sent, so the
    relay simply ends with the turn. A send that fails on a broken connection ends it early."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.stream_response(send)
        except OSError:
            return


def turn_response(first: tuple[str, dict[str, Any]], turn: Turn, *, skip: set[str]) -> EventStream:
    """Stream a turn. A client that disconnects stops reading; the turn itself carries on."""

    async def body() -> AsyncIterator[str]:
        yield frame(*first)
        async for event in turn.events():
            if event.type not in skip:
                yield frame(event.type, event.data)

    return EventStream(body(), media_type="text/event-stream", headers=HEADERS)
