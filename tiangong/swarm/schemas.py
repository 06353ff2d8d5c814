from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

SwarmMode = Literal["parallel", "sequential", "debate"]
# Contributions are quoted in later prompts, which must fit one chat message.
MAX_TASK = 8_000


class SwarmRunRequest(BaseModel):
    task: str = Field(min_length=1, max_length=MAX_TASK)
    agent_ids: list[str] = Field(min_length=2, max_length=10)
    mode: SwarmMode = "parallel"
    # debate only: round 1 answers, every later round critiques and revises.
    max_rounds: int = Field(default=2, ge=1, le=5)
    # Merges the answers (parallel, debate) or the chain (sequential, when given). Defaults to
    # the first agent for parallel and debate.
    synthesizer_agent_id: str | None = Field(default=None, max_length=36)

    @field_validator("agent_ids")
    @classmethod
    def _distinct_ids(cls, value: list[str]) -> list[str]:
        if any(not item or len(item) > 36 for item in value):
            raise ValueError("agent ids are 1-36 characters")
        if len(set(value)) != len(value):
            raise ValueError("agent_ids must be distinct")
        return value


ContributionRole = Literal["answer", "revision", "critique", "synthesis"]


class SwarmContribution(BaseModel):
    agent_id: str
    agent_name: str
    round: int
    role: ContributionRole
    status: Literal["complete", "failed"]
    content: str
    error: str | None = None
    # The conversation that holds this step (source "swarm"), for reading it later.
    session_id: str | None = None
    token_usage: dict[str, int] = {}
    duration_ms: float


class SwarmRunResult(BaseModel):
    run_id: str
    mode: SwarmMode
    task: str
    status: Literal["complete", "failed"]
    final_answer: str
    error: str | None = None
    synthesizer_agent_id: str | None
    rounds: int
    contributions: list[SwarmContribution]
    token_usage: dict[str, int]
    duration_ms: float
