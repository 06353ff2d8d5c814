"""A chat model's `vet` hook (see OpenAICompatibleModel): `tiangong.net.model_hosts` at call
time, with the LLM's errors."""

from __future__ import annotations

from tiangong.net import model_hosts
from tiangong.net.errors import BlockedURL, HttpUnreachable
from tiangong.runtime.llm import LLMBlocked, LLMUnreachable


async def vet(url: str) -> str:
    try:
        return await model_hosts.address(url)
    except BlockedURL as exc:
        raise LLMBlocked(
            f"The model's base_url is not allowed: {exc.message}. {model_hosts.HINT}"
        ) from None
    except HttpUnreachable as exc:
        raise LLMUnreachable(exc.message) from None
