"""The agent swarm: several agents work on one task, in parallel, in sequence, or in debate.

Every step is an ordinary agent chat turn (`chat.service.start_agent_turn`, source "swarm"):
the agent's model, tools and knowledge apply, each call is logged like chat's, and each step
is kept as a conversation. A step that fails becomes a failed contribution; the others go on.
No transaction is open while a model answers: each step's session commits before it runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tiangong.agents.service import get_visible
from tiangong.auth.models import User
from tiangong.chat import service as chat
from tiangong.chat.schemas import MAX_MESSAGE, ChatRequest
from tiangong.db.engine import session_factory
from tiangong.errors import AppError
from tiangong.swarm import prompts
from tiangong.swarm.schemas import (
    ContributionRole,
    SwarmContribution,
    SwarmRunRequest,
    SwarmRunResult,
)

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], None]


def _ignore(event: str, data: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class Member:
    id: str
    name: str


@dataclass(frozen=True)
class Plan:
    run_id: str
    user: User
    request: SwarmRunRequest
    members: list[Member]
    synthesizer: Member | None


async def plan(session: AsyncSession, user: User, request: SwarmRunRequest) -> Plan:
    """Check every agent is one the caller may see (404 otherwise), then end the transaction."""
    members = []
    for agent_id in request.agent_ids:
        agent = await get_visible(session, user, agent_id)
        members.append(Member(agent.id, agent.name))
    synthesizer = None
    if request.synthesizer_agent_id is not None:
        agent = await get_visible(session, user, request.synthesizer_agent_id)
        synthesizer = Member(agent.id, agent.name)
    elif request.mode != "sequential":
        synthesizer = members[0]
    await session.commit()
    return Plan(str(uuid.uuid4()), user, request, members, synthesizer)


async def _step(
    plan: Plan, member: Member, prompt: str, round_no: int, role: ContributionRole, emit: Emit
) -> SwarmContribution:
    where = {"agent_id": member.id, "round": round_no, "role": role}
    emit("agent_start", {**where, "agent_name": member.name})
    started = time.perf_counter()
    session_id, content, error, usage = None, "", None, {}
    try:
        async with session_factory()() as session:
            turn = await chat.start_agent_turn(
                session,
                plan.user,
                member.id,
                ChatRequest(message=prompt[:MAX_MESSAGE]),
                source="swarm",
            )
        session_id = turn.conversation_id
        async for event in turn.events():
            if event.type == "token":
                emit("token", {**where, "text": event.data.get("text", "")})
        final = await turn.result()
        content, usage = final.content, dict(final.token_usage or {})
        if final.status == "failed":
            error = final.error or "CHAT_FAILED: the model call failed"
    except AppError as exc:
        error = f"{exc.code}: {exc.message}"
    except Exception as exc:
        log.exception("swarm step of agent %s crashed", member.id)
        error = f"INTERNAL_ERROR: {type(exc).__name__}"
    contribution = SwarmContribution(
        agent_id=member.id,
        agent_name=member.name,
        round=round_no,
        role=role,
        status="failed" if error else "complete",
        content=content,
        error=error,
        session_id=session_id,
        token_usage={k: int(v) for k, v in usage.items() if isinstance(v, int | float)},
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    emit("agent_done", contribution.model_dump())
    return contribution


def _answers(contributions: Sequence[SwarmContribution]) -> list[tuple[str, str]]:
    return [(c.agent_name, c.content) for c in contributions if c.status == "complete"]


class _Run:
    def __init__(self, plan: Plan, emit: Emit) -> None:
        self.plan, self.emit = plan, emit
        self.task = plan.request.task
        self.contributions: list[SwarmContribution] = []
        self.rounds = 1

    async def step(
        self, member: Member, prompt: str, round_no: int, role: ContributionRole
    ) -> SwarmContribution:
        done = await _step(self.plan, member, prompt, round_no, role, self.emit)
        self.contributions.append(done)
        return done

    async def together(
        self, prompts_by_member: Sequence[tuple[Member, str]], round_no: int, role: ContributionRole
    ) -> list[SwarmContribution]:
        steps = [self.step(m, p, round_no, role) for m, p in prompts_by_member]
        return list(await asyncio.gather(*steps))

    async def parallel(self) -> list[SwarmContribution]:
        members = self.plan.members
        return await self.together([(m, prompts.answer(self.task)) for m in members], 1, "answer")

    async def sequential(self) -> list[SwarmContribution]:
        chain: list[SwarmContribution] = []
        last: SwarmContribution | None = None
        for member in self.plan.members:
            role: ContributionRole = "answer"
            prompt = prompts.answer(self.task)
            if last is not None:
                role = "revision"
                prompt = prompts.build_on(self.task, last.agent_name, last.content)
            done = await self.step(member, prompt, len(chain) + 1, role)
            chain.append(done)
            # A failed link is skipped: the next agent builds on the last good result.
            if done.status == "complete":
                last = done
        self.rounds = len(chain)
        return chain

    async def debate(self) -> list[SwarmContribution]:
        latest = await self.parallel()
        for round_no in range(2, self.plan.request.max_rounds + 1):
            if not _answers(latest):
                break
            work = []
            for member, own in zip(self.plan.members, latest, strict=True):
                others = [(c.agent_name, c.content) for c in latest if c is not own]
                others = [(n, t) for n, t in others if t]
                work.append((member, prompts.critique(self.task, own.content, others)))
            revised = await self.together(work, round_no, "critique")
            # Keep an agent's earlier answer when its revision failed.
            pairs = zip(revised, latest, strict=True)
            latest = [new if new.status == "complete" else old for new, old in pairs]
            self.rounds = round_no
        return latest

    async def run(self) -> SwarmRunResult:
        started = time.perf_counter()
        request = self.plan.request
        if request.mode == "parallel":
            latest = await self.parallel()
        elif request.mode == "sequential":
            latest = await self.sequential()
        else:
            latest = await self.debate()
        answers = _answers(latest)
        final, error = "", None
        synthesizer = self.plan.synthesizer
        if not answers:
            error = "SWARM_FAILED: every agent failed"
        elif synthesizer is None:
            final = answers[-1][1]
        else:
            prompt = prompts.synthesis(self.task, answers)
            merged = await self.step(synthesizer, prompt, self.rounds + 1, "synthesis")
            final, error = merged.content, merged.error
        return SwarmRunResult(
            run_id=self.plan.run_id,
            mode=request.mode,
            task=self.task,
            status="failed" if error else "complete",
            final_answer="" if error else final,
            error=error,
            synthesizer_agent_id=synthesizer.id if synthesizer else None,
            rounds=self.rounds,
            contributions=self.contributions,
            token_usage=_total_usage(self.contributions),
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def _total_usage(contributions: Sequence[SwarmContribution]) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in contributions:
        for key, value in c.token_usage.items():
            total[key] = total.get(key, 0) + value
    return total


async def run(plan: Plan, emit: Emit = _ignore) -> SwarmRunResult:
    return await _Run(plan, emit).run()
