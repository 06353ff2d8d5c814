"""The per-process cache of resolved models never serves a config after it changed."""

from __future__ import annotations

from typing import Any

import httpx

from tiangong.cache import get_cache
from tiangong.model_configs.resolved import resolved_models

CHAT = "/api/v1/agent-chat/bare"
CONFIGS = "/api/v1/model-configs"


async def _chat(client: httpx.AsyncClient, headers: dict[str, str], **extra: Any) -> str:
    response = await client.post(CHAT, json={"message": "hi", **extra}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["reply"])


async def test_update_and_delete_take_effect_on_the_next_turn(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    fake_llm: Any,
    chat_model: dict[str, Any],
) -> None:
    fake_llm.script([{"content": "one"}, {"content": "two"}, {"content": "three"}])
    await _chat(client, user_headers)
    assert fake_llm.requests[-1]["model"] == "fake-model"

    url = f"{CONFIGS}/{chat_model['id']}"
    response = await client.put(url, json={"model_name": "renamed"}, headers=user_headers)
    assert response.status_code == 200, response.text
    await _chat(client, user_headers)
    assert fake_llm.requests[-1]["model"] == "renamed"

    # By alias too, then gone: the cached entry must not outlive the row.
    await _chat(client, user_headers, model="worker")
    assert (await client.delete(url, headers=user_headers)).status_code == 204
    response = await client.post(
        CHAT, json={"message": "hi", "model": "worker"}, headers=user_headers
    )
    assert response.status_code == 404, response.text


async def test_a_flushed_cache_invalidates_every_entry(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    fake_llm: Any,
    chat_model: dict[str, Any],
) -> None:
    fake_llm.script([{"content": "one"}, {"content": "two"}])
    await _chat(client, user_headers)
    # Another process changed the row and its bump was lost with the flushed cache.
    from tiangong.db.engine import session_factory
    from tiangong.model_configs.models import ModelConfig

    async with session_factory()() as session:
        row = await session.get(ModelConfig, chat_model["id"])
        assert row is not None
        row.model_name = "changed-elsewhere"
        await session.commit()
    await get_cache().delete("model_configs:generation")
    await _chat(client, user_headers)
    assert fake_llm.requests[-1]["model"] == "changed-elsewhere"
    resolved_models.clear()
