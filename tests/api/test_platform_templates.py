"""Platform scene templates (from the scene-contract presets) and quick creation of agents."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.asserts import assert_error
from tests.conftest import parse_sse

API = "/api/v1/platform"


async def test_scene_templates_and_categories(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    listed = (await client.get(f"{API}/scene-templates", headers=user_headers)).json()
    assert listed["total"] == 11 == len(listed["items"])
    ids = {t["id"] for t in listed["items"]}
    assert {"customer_service", "daily_report", "pr_review"} <= ids
    service = next(t for t in listed["items"] if t["id"] == "customer_service")
    assert service["name"] == "智能客服" and service["category_name"] == "客服"
    assert service["description"] and "客服" in service["tags"]

    categories = (await client.get(f"{API}/categories", headers=user_headers)).json()
    counts = {c["id"]: c["count"] for c in categories}
    assert counts["development"] == 2 and counts["hr"] == 2 and sum(counts.values()) == 11
    assert {"id": "risk", "name": "风控", "count": 1} in categories

    dev = (
        await client.get(
            f"{API}/scene-templates", params={"category": "development"}, headers=user_headers
        )
    ).json()
    assert {t["id"] for t in dev["items"]} == {"dev_codegen", "pr_review"}
    none = await client.get(
        f"{API}/scene-templates", params={"category": "nothing"}, headers=user_headers
    )
    assert none.json() == {"items": [], "total": 0}

    detail = (await client.get(f"{API}/scene-templates/daily_report", headers=user_headers)).json()
    assert detail["contract"]["id"] == "contract_daily_report" and detail["language"] == "zh"
    assert detail["system_prompt"].startswith("# 角色")
    english = await client.get(
        f"{API}/scene-templates/daily_report", params={"language": "en"}, headers=user_headers
    )
    assert english.json()["system_prompt"].startswith("# Role")
    assert_error(
        await client.get(f"{API}/scene-templates/nope", headers=user_headers),
        404,
        "SCENE_TEMPLATE_NOT_FOUND",
    )
    assert_error(
        await client.get(
            f"{API}/scene-templates/daily_report", params={"language": "fr"}, headers=user_headers
        ),
        422,
        "VALIDATION_ERROR",
    )


async def test_quick_create_makes_a_usable_agent(
    client: httpx.AsyncClient, user_headers: dict[str, str], chat_model: Any, fake_llm: Any
) -> None:
    template = (
        await client.get(f"{API}/scene-templates/customer_service", headers=user_headers)
    ).json()
    response = await client.post(
        f"{API}/quick-create",
        json={
            "template_id": "customer_service",
            "name": "我的客服",
            "model_config": {"config_id": chat_model["id"], "temperature": 0.2},
        },
        headers=user_headers,
    )
    assert response.status_code == 201, response.text
    agent = response.json()
    assert agent["name"] == "我的客服" and agent["status"] == "draft"
    assert agent["system_prompt"] == template["system_prompt"]
    assert agent["model_config"] == {"config_id": chat_model["id"], "temperature": 0.2}
    assert agent["settings"]["scene_template_id"] == "customer_service"

    # It is an ordinary agent: listed, readable, and it chats with the contract as its prompt.
    got = await client.get(f"/api/v1/agents/{agent['id']}", headers=user_headers)
    assert got.status_code == 200 and got.json()["version"] == 1
    listed = (await client.get("/api/v1/agents", headers=user_headers)).json()
    assert agent["id"] in [a["id"] for a in listed["items"]]
    fake_llm.script([{"content": "您好，请问有什么可以帮您？"}])
    chat = await client.post(
        f"/api/v1/agent-chat/{agent['id']}/stream", json={"message": "你好"}, headers=user_headers
    )
    events = parse_sse(chat.text)
    assert events[-1][0] == "done", events
    system = fake_llm.requests[-1]["messages"][0]
    assert system["role"] == "system" and "一线客服专员" in system["content"]

    defaults = await client.post(
        f"{API}/quick-create",
        json={"template_id": "pr_review", "language": "en"},
        headers=user_headers,
    )
    assert defaults.status_code == 201, defaults.text
    assert defaults.json()["name"] == "PR 代码评审"
    assert defaults.json()["system_prompt"].startswith("# Role")


async def test_quick_create_bad_input(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    assert_error(
        await client.post(
            f"{API}/quick-create", json={"template_id": "nope"}, headers=user_headers
        ),
        404,
        "SCENE_TEMPLATE_NOT_FOUND",
    )
    for body in (
        {},
        {"template_id": ""},
        {"template_id": "daily_report", "name": ""},
        {"template_id": "daily_report", "name": "x" * 101},
        {"template_id": "daily_report", "language": "fr"},
        {"template_id": "daily_report", "model_config": {"temperature": 5}},
        {"template_id": "daily_report", "model_config": {"api_key": "sk-x"}},
        {"template_id": "daily_report", "unknown": 1},
    ):
        response = await client.post(f"{API}/quick-create", json=body, headers=user_headers)
        assert_error(response, 422, "VALIDATION_ERROR")
    assert (await client.get("/api/v1/agents", headers=user_headers)).json()["total"] == 0


async def test_quick_created_agent_belongs_to_its_creator(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    created = await client.post(
        f"{API}/quick-create", json={"template_id": "daily_report"}, headers=user_headers
    )
    agent_id = created.json()["id"]
    assert_error(
        await client.get(f"/api/v1/agents/{agent_id}", headers=other_headers),
        404,
        "AGENT_NOT_FOUND",
    )


async def test_platform_needs_a_token(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", f"{API}/scene-templates"),
        ("GET", f"{API}/scene-templates/daily_report"),
        ("GET", f"{API}/categories"),
        ("POST", f"{API}/quick-create"),
    ):
        response = await client.request(method, path, json={"template_id": "daily_report"})
        assert response.status_code == 401, (method, path)
