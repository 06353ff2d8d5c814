"""Answers left `streaming` by a process that died are marked `incomplete`, so nothing stays
"streaming" forever. Live turns update their row when they end; a row untouched for longer than
any turn may last (approval waits included) belongs to a dead process."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select, update

from tiangong.config import get_settings
from tiangong.conversations import history
from tiangong.conversations.models import Message
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory

log = logging.getLogger(__name__)

INTERVAL_S = 300


def stale_after() -> timedelta:
    return timedelta(seconds=get_settings().tool_approval_timeout_s + 900)


async def reap_once() -> int:
    cutoff = utcnow() - stale_after()
    async with session_factory()() as session:
        rows = list(
            (
                await session.execute(
                    select(Message)
                    .where(Message.status == "streaming", Message.updated_at < cutoff)
                    .limit(500)
                )
            ).scalars()
        )
        if not rows:
            return 0
        await session.execute(
            update(Message)
            .where(Message.id.in_([m.id for m in rows]), Message.status == "streaming")
            .values(status="incomplete", error="INTERRUPTED: the server stopped while answering")
        )
        await session.commit()
        views = [
            history.view(m).model_copy(
                update={
                    "status": "incomplete",
                    "error": "INTERRUPTED: the server stopped while answering",
                }
            )
            for m in rows
        ]
    await history.remember(*views)
    log.warning("marked %d interrupted answers as incomplete", len(views))
    return len(views)


async def run_forever() -> None:
    while True:
        try:
            await reap_once()
        except Exception:
            log.exception("reaping interrupted answers failed")
        await asyncio.sleep(INTERVAL_S)
