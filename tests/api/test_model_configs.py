from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import FAKE_LLM_KEY
from tiangong.db.engine import session_factory
from tiangong.model_configs.models import ModelConfig

URL = "/api/v1/model-configs"


def _body(fake: Any, **over: Any) -> dict[str, Any]:
    body = {
        "name": "fake",
        "provider": "openai_compatible",
        "base_url": fake.base_url,
        "model_name": "fake-model",
        "api_key": FAKE_LLM_KEY,
        "temperature": 0.3,
        "max_tokens": 512,
        "thinking": True,
        "alias": "worker",
    }
    body.update(over)
    return body


async def _create(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_masks_key_and_keeps_parameters(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    created = await _create(client, user_headers, _body(fake_llm))
    assert created["api_key_set"] is True
    assert created["api_key_masked"] == "sk-****cdef"
    assert created["alias"] == "worker"
    assert created["temperature"] == 0.3 and created["max_tokens"] == 512
    assert created["thinking"] is True
    assert FAKE_LLM_KEY not in str(created)


async def test_key_is_encrypted_at_rest(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    created = await _create(client, user_headers, _body(fake_llm))
    async with session_factory()() as session:
        row = await session.execute(select(ModelConfig).where(ModelConfig.id == created["id"]))
        stored = row.scalar_one().api_key_encrypted
    assert stored and FAKE_LLM_KEY not in stored


async def test_key_never_appears_in_any_response_or_log(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    fake_llm: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await _create(client, user_headers, _body(fake_llm))
    responses = [
        await client.get(URL, headers=user_headers),
        await client.get(f"{URL}/{created['id']}", headers=user_headers),
        await client.put(f"{URL}/{created['id']}", json={"name": "renamed"}, headers=user_headers),
        await client.post(f"{URL}/{created['id']}/test", headers=user_headers),
    ]
    for response in responses:
        assert FAKE_LLM_KEY not in response.text
    assert FAKE_LLM_KEY not in caplog.text


async def test_test_endpoint_calls_the_model_and_reports_latency(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    fake_llm.script([{"content": "pong"}])
    created = await _create(client, user_headers, _body(fake_llm))
    response = await client.post(f"{URL}/{created['id']}/test", headers=user_headers)
    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is True
    assert result["reply"] == "pong"
    assert result["latency_ms"] > 0
    assert fake_llm.requests[-1]["model"] == "fake-model"


async def test_test_endpoint_reports_the_providers_error(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    created = await _create(client, user_headers, _body(fake_llm, api_key="sk-wrong-key-999999"))
    response = await client.post(f"{URL}/{created['id']}/test", headers=user_headers)
    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is False
    assert result["error"] == "LLM_AUTH_FAILED"
    assert "sk-wrong-key-999999" not in response.text


async def test_test_endpoint_reports_an_unreachable_endpoint(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    created = await _create(client, user_headers, _body(fake_llm, base_url="http://127.0.0.1:9/v1"))
    result = (await client.post(f"{URL}/{created['id']}/test", headers=user_headers)).json()
    assert result["ok"] is False
    assert result["error"] == "LLM_UNREACHABLE"


async def test_list_is_paged_and_scoped_to_the_owner(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    fake_llm: Any,
) -> None:
    for i in range(3):
        await _create(client, user_headers, _body(fake_llm, name=f"m{i}", alias=None))
    await _create(client, other_headers, _body(fake_llm, name="bobs", alias=None))
    page = (await client.get(URL, params={"page": 1, "page_size": 2}, headers=user_headers)).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    page2 = (await client.get(URL, params={"page": 2, "page_size": 2}, headers=user_headers)).json()
    assert [item["name"] for item in page2["items"]] == ["m2"]
    names = {i["name"] for i in page["items"] + page2["items"]}
    assert "bobs" not in names


async def test_another_users_config_is_404_for_every_verb(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    fake_llm: Any,
) -> None:
    created = await _create(client, user_headers, _body(fake_llm))
    path = f"{URL}/{created['id']}"
    assert (await client.get(path, headers=other_headers)).status_code == 404
    assert (await client.put(path, json={"name": "x"}, headers=other_headers)).status_code == 404
    assert (await client.delete(path, headers=other_headers)).status_code == 404
    response = await client.post(f"{path}/test", headers=other_headers)
    assert response.status_code == 404
    assert response.json()["error"] == "MODEL_CONFIG_NOT_FOUND"
    assert (await client.get(path, headers=user_headers)).status_code == 200


async def test_every_endpoint_needs_a_token(client: httpx.AsyncClient) -> None:
    some = "00000000-0000-0000-0000-000000000000"
    calls = [
        client.get(URL),
        client.post(URL, json={}),
        client.get(f"{URL}/{some}"),
        client.put(f"{URL}/{some}", json={"name": "x"}),
        client.delete(f"{URL}/{some}"),
        client.post(f"{URL}/{some}/test"),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 401
        assert response.json()["error"] == "NOT_AUTHENTICATED"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"temperature": 5}, "body.temperature"),
        ({"base_url": "ftp://x"}, "body.base_url"),
        ({"provider": "nope"}, "body.provider"),
        ({"model_name": ""}, "body.model_name"),
        ({"alias": "has space"}, "body.alias"),
        ({"max_tokens": 0}, "body.max_tokens"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    fake_llm: Any,
    override: dict[str, Any],
    field: str,
) -> None:
    response = await client.post(URL, json=_body(fake_llm, **override), headers=user_headers)
    assert response.status_code == 422
    assert field in {d["field"] for d in response.json()["details"]}


async def test_vllm_without_base_url_is_a_clear_400(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    body = _body(fake_llm, provider="vllm")
    del body["base_url"]
    response = await client.post(URL, json=body, headers=user_headers)
    assert response.status_code == 400
    assert response.json()["error"] == "BASE_URL_REQUIRED"


async def test_known_provider_gets_its_default_base_url(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    body = _body(fake_llm, provider="deepseek")
    del body["base_url"]
    created = await _create(client, user_headers, body)
    assert created["base_url"] == "https://api.deepseek.com/v1"


async def test_duplicate_name_or_alias_is_409(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    await _create(client, user_headers, _body(fake_llm))
    again = await client.post(URL, json=_body(fake_llm, alias="other"), headers=user_headers)
    assert again.status_code == 409
    alias = await client.post(URL, json=_body(fake_llm, name="n2"), headers=user_headers)
    assert alias.status_code == 409


async def test_same_name_for_different_users_is_fine(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    fake_llm: Any,
) -> None:
    await _create(client, user_headers, _body(fake_llm))
    await _create(client, other_headers, _body(fake_llm))


async def test_update_changes_fields_and_can_replace_or_remove_the_key(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    created = await _create(client, user_headers, _body(fake_llm))
    path = f"{URL}/{created['id']}"
    updated = (
        await client.put(
            path, json={"temperature": 1.1, "api_key": "sk-new-key-abcd"}, headers=user_headers
        )
    ).json()
    assert updated["temperature"] == 1.1
    assert updated["api_key_masked"] == "sk-****abcd"
    assert updated["name"] == "fake"
    removed = (await client.put(path, json={"api_key": ""}, headers=user_headers)).json()
    assert removed["api_key_set"] is False and removed["api_key_masked"] is None


async def test_empty_update_is_422(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    created = await _create(client, user_headers, _body(fake_llm))
    response = await client.put(f"{URL}/{created['id']}", json={}, headers=user_headers)
    assert response.status_code == 422


async def test_null_name_on_update_is_400_not_500(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    created = await _create(client, user_headers, _body(fake_llm))
    response = await client.put(f"{URL}/{created['id']}", json={"name": None}, headers=user_headers)
    assert response.status_code == 400


async def test_delete_removes_it(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    created = await _create(client, user_headers, _body(fake_llm))
    path = f"{URL}/{created['id']}"
    assert (await client.delete(path, headers=user_headers)).status_code == 204
    assert (await client.get(path, headers=user_headers)).status_code == 404


async def test_only_admins_share_and_users_can_use_but_not_edit_shared(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    fake_llm: Any,
) -> None:
    refused = await client.post(URL, json=_body(fake_llm, shared=True), headers=user_headers)
    assert refused.status_code == 403
    shared = await _create(client, admin_headers, _body(fake_llm, shared=True))
    listed = (await client.get(URL, headers=user_headers)).json()["items"]
    assert [item["source"] for item in listed] == ["shared"]
    edit = await client.put(f"{URL}/{shared['id']}", json={"name": "x"}, headers=user_headers)
    assert edit.status_code == 403


async def test_setting_a_default_clears_the_previous_one(
    client: httpx.AsyncClient, user_headers: dict[str, str], fake_llm: Any
) -> None:
    first = await _create(
        client, user_headers, _body(fake_llm, name="a", alias=None, is_default=True)
    )
    await _create(client, user_headers, _body(fake_llm, name="b", alias=None, is_default=True))
    again = (await client.get(f"{URL}/{first['id']}", headers=user_headers)).json()
    assert again["is_default"] is False


async def test_env_default_model_is_listed_and_testable(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tiangong.config import get_settings

    settings = get_settings()
    monkeypatch.setattr(settings, "llm_base_url", fake_llm.base_url)
    monkeypatch.setattr(settings, "llm_api_key", FAKE_LLM_KEY)
    monkeypatch.setattr(settings, "llm_model", "env-model")
    items = (await client.get(URL, headers=user_headers)).json()["items"]
    assert items[0]["id"] == "env-default" and items[0]["source"] == "env"
    assert FAKE_LLM_KEY not in str(items)
    fake_llm.script([{"content": "hi"}])
    result = (await client.post(f"{URL}/env-default/test", headers=user_headers)).json()
    assert result["ok"] is True
    assert fake_llm.requests[-1]["model"] == "env-model"
