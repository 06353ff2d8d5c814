"""Fits conversation history into a model's context window, whole turns at a time."""

from __future__ import annotations

from collections.abc import Sequence

from tiangong.runtime.agent.tokens import message_tokens
from tiangong.runtime.llm import ChatMessage


def build_context(
    system_prompt: str | None,
    history: Sequence[ChatMessage],
    user_message: ChatMessage,
    *,
    budget_tokens: int,
    reserve_output_tokens: int = 1024,
) -> list[ChatMessage]:
    """[system] + the newest whole turns of `history` that fit + `user_message`.

    A turn starts at a user message and holds the assistant and tool messages after it, so
    a tool call never loses its results. Oldest turns go first; the system prompt and the
    new user message stay even over budget. `history` must hold no system prompt and no
    reasoning: reasoning is never sent back to a model, so keep it out of `content`.
    """
    head = [ChatMessage(role="system", content=system_prompt)] if system_prompt else []
    available = (
        budget_tokens
        - reserve_output_tokens
        - sum(message_tokens(m) for m in head)
        - message_tokens(user_message)
    )
    kept: list[list[ChatMessage]] = []
    for turn in reversed(_turns(history)):
        cost = sum(message_tokens(m) for m in turn)
        # Stop at the first turn that does not fit: skipping it would leave a gap.
        if cost > available:
            break
        available -= cost
        kept.append(turn)
    return [*head, *(m for turn in reversed(kept) for m in turn), user_message]


def _turns(history: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    turns: list[list[ChatMessage]] = []
    for message in history:
        if message.role == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns
