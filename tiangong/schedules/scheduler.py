"""Fires due schedules exactly once, however many processes run this loop.

Each due time is claimed by INSERTing its `ScheduleRun(schedule_id, due_at)`: the unique
constraint lets one transaction win, the others get an IntegrityError and move on. In the same
transaction the winner moves `next_run_at` on with a compare-and-set on the old value (so an edit
of the schedule meanwhile voids the claim), commits, and only then fires.

Missed times (the process was down): a schedule fires once for the oldest missed time, then its
next time is computed from now; missed times are not replayed one by one.
A crash between the claim's commit and the firing leaves the run `running` with no result: at
most once for that window, never twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError

from tiangong.auth.models import User
from tiangong.chat import service as chat_service
from tiangong.chat.schemas import ChatRequest
from tiangong.config import get_settings
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.errors import AppError
from tiangong.schedules import repository
from tiangong.schedules.cron import next_after
from tiangong.schedules.models import AgentSchedule, ScheduleRun
from tiangong.workflows import service as workflows_service
from tiangong.workflows.schemas import ExecuteRequest

logger = logging.getLogger(__name__)

BATCH = 100
_watchers: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class Target:
    owner_id: str
    target_type: str
    target_id: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, schedule: AgentSchedule) -> Target:
        return cls(schedule.owner_id, schedule.target_type, schedule.target_id, schedule.payload)


async def _finish(run_id: str, **values: Any) -> None:
    async with session_factory()() as session:
        await session.execute(update(ScheduleRun).where(ScheduleRun.id == run_id).values(**values))
        await session.commit()


async def _watch_turn(run_id: str, turn: Any) -> None:
    final = await turn.result()
    if final.status == "error" or final.error:
        error = {"code": "AGENT_FAILED", "message": final.error or "agent failed"}
        await _finish(run_id, status="failed", error=error, finished_at=utcnow())
    else:
        await _finish(run_id, status="succeeded", finished_at=utcnow())


async def fire(run_id: str, target: Target) -> None:
    """Start the agent turn or workflow run of a claimed ScheduleRun; never raises.
    Workflow runs report their outcome through the run itself (read back in the history)."""
    try:
        async with session_factory()() as session:
            owner = await session.get(User, target.owner_id)
            if owner is None or not owner.is_active:
                raise AppError("the schedule's owner is not active", code="OWNER_INACTIVE")
            if target.target_type == "workflow":
                request = ExecuteRequest(inputs=target.payload.get("inputs") or {}, mode="async")
                run, _ = await workflows_service.execute(
                    session, owner, target.target_id, request, trigger="schedule"
                )
                await session.commit()
                await _finish(run_id, result_id=run.id)
                return
            chat = ChatRequest(message=str(target.payload.get("message") or ""))
            turn = await chat_service.start_agent_turn(
                session, owner, target.target_id, chat, source="schedule"
            )
            await session.commit()
        await _finish(run_id, result_id=turn.conversation_id)
        watcher = asyncio.create_task(_watch_turn(run_id, turn))
        _watchers.add(watcher)
        watcher.add_done_callback(_watchers.discard)
    except Exception as exc:
        if isinstance(exc, AppError):
            error = {"code": exc.code, "message": exc.message}
        else:
            logger.exception("schedule run %s failed to start", run_id)
            error = {"code": "SCHEDULE_FIRE_FAILED", "message": f"{type(exc).__name__}: {exc}"}
        with contextlib.suppress(Exception):
            await _finish(run_id, status="failed", error=error, finished_at=utcnow())


async def _claim(schedule: AgentSchedule, now: datetime) -> str | None:
    """The ScheduleRun id if this process won the schedule's due time, else None."""
    due_at = schedule.next_run_at
    assert due_at is not None
    following = next_after(schedule.cron, schedule.timezone, now)
    async with session_factory()() as session:
        try:
            row = ScheduleRun(
                schedule_id=schedule.id, due_at=due_at, trigger="cron", started_at=now
            )
            session.add(row)
            await session.flush()
            moved = await session.execute(
                update(AgentSchedule)
                .where(
                    AgentSchedule.id == schedule.id,
                    AgentSchedule.next_run_at == due_at,
                    AgentSchedule.enabled.is_(True),
                )
                .values(next_run_at=following, last_run_at=now)
            )
            if getattr(moved, "rowcount", 0) != 1:
                await session.rollback()
                return None
            await session.commit()
            return row.id
        except IntegrityError:
            await session.rollback()  # another process has this due time
            return None
        except DBAPIError:
            # MySQL may pick a loser of the race as a deadlock victim; the next tick retries.
            logger.warning("schedule %s: claim failed", schedule.id, exc_info=True)
            await session.rollback()
            return None


async def tick(now: datetime | None = None) -> list[str]:
    """Claim and fire every schedule due at `now`; returns the ScheduleRun ids fired here."""
    now = now or utcnow()
    async with session_factory()() as session:
        due = await repository.due(session, now, BATCH)
    fired = []
    for schedule in due:
        try:
            run_id = await _claim(schedule, now)
        except AppError:
            # A stored cron that no longer evaluates (edited outside the API): skip it, loudly.
            logger.warning("schedule %s: cannot compute its next time", schedule.id, exc_info=True)
            continue
        if run_id is not None:
            fired.append(run_id)
            await fire(run_id, Target.of(schedule))
    return fired


class Scheduler:
    def __init__(self, tick_s: float, clock: Callable[[], datetime] = utcnow) -> None:
        self.tick_s = tick_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def _loop(self) -> None:
        # The flag ends the loop even if library code swallows the cancel (see stop).
        while not self._stopping:
            try:
                await tick(self.clock())
            except Exception:
                logger.warning("scheduler tick failed", exc_info=True)
            await asyncio.sleep(self.tick_s)

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


_scheduler: Scheduler | None = None


def start() -> None:
    """App startup: every API process runs the loop; the claim keeps firings exactly once."""
    global _scheduler
    _scheduler = Scheduler(get_settings().scheduler_tick_s)
    _scheduler.start()


async def stop() -> None:
    global _scheduler
    if _scheduler is not None:
        await _scheduler.stop()
        _scheduler = None
    for watcher in list(_watchers):
        watcher.cancel()
