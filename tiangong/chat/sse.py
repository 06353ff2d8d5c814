"""Server-sent events: one `event:` line and one JSON `data:` line per event, no buffering."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from tiangong.conversations.turns import Turn

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def frame(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def turn_response(
    first: tuple[str, dict[str, Any]], turn: Turn, *, skip: set[str]
) -> StreamingResponse:
    """Stream a turn. A client that disconnects stops reading; the turn itself carries on."""

    async def body() -> AsyncIterator[str]:
        yield frame(*first)
        async for event in turn.events():
            if event.type not in skip:
                yield frame(event.type, event.data)

    return StreamingResponse(body(), media_type="text/event-stream", headers=HEADERS)
