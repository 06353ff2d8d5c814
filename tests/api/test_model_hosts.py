"""Model and embeddings base URLs are user-given URLs: a user who is not an admin cannot point
them at loopback, private or metadata addresses, neither when saving (400) nor at call time
(the address is checked again before every call). Admins' and shared configs may reach any
address; `llm_allowlist` opens addresses for everyone (the suite opens 127.0.0.1 for the fake
LLM, these tests close it again)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import FAKE_LLM_KEY, parse_sse
from tiangong.config import get_settings
from tiangong.net import model_hosts
from tiangong.net.errors import BlockedURL

MODELS = "/api/v1/model-configs"
CHAT = "/api/v1/agent-chat"
KB = "/api/v1/knowledge-bases"


def _model(base_url: str, **over: Any) -> dict[str, Any]:
    body = {
        "name": "local",
        "base_url": base_url,
        "model_name": "fake-model",
        "api_key": FAKE_LLM_KEY,
        "is_default": True,
    }
    return {**body, **over}


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """No address opened for model hosts: the platform's default."""
    monkeypatch.setattr(get_settings(), "llm_allowlist", [])


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:11434/v1",
        "http://localhost:8000/v1",
        "http://10.0.0.5/v1",
        "http://169.254.169.254/latest",
        "http://[::1]:8000/v1",
    ],
)
async def test_a_user_cannot_save_a_private_base_url(
    client: httpx.AsyncClient, user_headers: dict[str, str], closed: None, base_url: str
) -> None:
    response = await client.post(MODELS, json=_model(base_url), headers=user_headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "BASE_URL_BLOCKED"
    assert "TIANGONG_LLM_ALLOWLIST" in response.json()["message"]
    # Nor by changing a config's URL afterwards.
    public = await client.post(
        MODELS, json=_model("https://api.example.com/v1"), headers=user_headers
    )
    assert public.status_code == 201, public.text
    changed = await client.put(
        f"{MODELS}/{public.json()['id']}", json={"base_url": base_url}, headers=user_headers
    )
    assert changed.status_code == 400 and changed.json()["error"] == "BASE_URL_BLOCKED"


async def test_the_metadata_address_stays_closed_even_with_loopback_open(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    body = _model("http://169.254.169.254/v1")
    response = await client.post(MODELS, json=body, headers=user_headers)
    assert response.status_code == 400 and response.json()["error"] == "BASE_URL_BLOCKED"


async def test_a_users_model_is_checked_again_when_called(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Saved while loopback was open; closed afterwards: the call is refused before any
    request leaves, with a clear error, in a test of the config and in a streamed chat."""
    created = await client.post(MODELS, json=_model(fake_llm.base_url), headers=user_headers)
    assert created.status_code == 201, created.text
    fake_llm.script([{"content": "hello"}])
    ok = await client.post(f"{CHAT}/bare", json={"message": "hi"}, headers=user_headers)
    assert ok.status_code == 200 and ok.json()["reply"] == "hello"
    seen = len(fake_llm.requests)
    monkeypatch.setattr(get_settings(), "llm_allowlist", [])
    tested = await client.post(f"{MODELS}/{created.json()['id']}/test", headers=user_headers)
    assert tested.status_code == 200, tested.text
    assert tested.json()["ok"] is False and tested.json()["error"] == "LLM_URL_BLOCKED"
    stream = await client.post(
        f"{CHAT}/bare/stream", json={"message": "again"}, headers=user_headers
    )
    events = parse_sse(stream.text)
    assert events[-1][0] == "error", events
    assert events[-1][1]["code"] == "LLM_URL_BLOCKED"
    assert len(fake_llm.requests) == seen


async def test_an_admins_and_a_shared_config_may_reach_a_private_address(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    fake_llm: Any,
    closed: None,
) -> None:
    body = _model(fake_llm.base_url, shared=True, alias="local-shared", is_default=False)
    created = await client.post(MODELS, json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    fake_llm.script([{"content": "admin"}, {"content": "shared"}])
    for headers in (admin_headers, user_headers):
        reply = await client.post(f"{MODELS}/{created.json()['id']}/test", headers=headers)
        assert reply.status_code == 200 and reply.json()["ok"] is True, reply.text


async def test_a_knowledge_base_embeddings_url_is_checked_when_saved_and_when_used(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = {
        "name": "remote-embeddings",
        "embedding_provider": "openai",
        "embedding_model": "fake-embed",
        "embedding_dim": 384,
        "embedding_api_key": FAKE_LLM_KEY,
        "embedding_base_url": "http://169.254.169.254/v1",
    }
    refused = await client.post(KB, json=body, headers=user_headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "BASE_URL_BLOCKED"
    # Saved while loopback was open, then closed: checked again at the call.
    body["embedding_base_url"] = fake_llm.base_url
    created = await client.post(KB, json=body, headers=user_headers)
    assert created.status_code == 201, created.text
    monkeypatch.setattr(get_settings(), "llm_allowlist", [])
    search = {"query": "hello", "mode": "vector"}
    url = f"{KB}/{created.json()['id']}/search"
    response = await client.post(url, json=search, headers=user_headers)
    assert response.status_code == 502, response.text
    assert "embedding_base_url" in response.json()["message"]
    assert fake_llm.embedding_requests == []


async def test_the_sdks_client_dials_only_allowed_addresses(
    fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client behind SDK calls (non-streamed chat, embeddings) checks every connection
    itself, so a name that resolves elsewhere after `vet` still cannot reach a closed address."""
    url = f"{fake_llm.base_url}/models"
    headers = {"Authorization": f"Bearer {FAKE_LLM_KEY}"}
    response = await model_hosts.sdk_http().get(url, headers=headers)
    assert response.status_code == 200
    monkeypatch.setattr(get_settings(), "llm_allowlist", [])
    with pytest.raises(BlockedURL):
        await model_hosts.sdk_http().get(url, headers=headers)
