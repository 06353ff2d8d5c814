from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tiangong.agents.models import Agent, AgentVersion
from tiangong.conversations.models import Conversation
from tiangong.db.engine import session_factory
from tiangong.llm_logs.models import LLMCallLog

URL = "/api/v1/agents"
Headers = dict[str, str]

WORKFLOW = {
    "nodes": [
        {"id": "start", "type": "start", "label": "开始"},
        {"id": "agent", "type": "agent", "label": "智能体", "position": {"x": 1, "y": 2}},
        {"id": "end", "type": "end", "label": "结束"},
    ],
    "edges": [{"source": "start", "target": "agent"}, {"source": "agent", "target": "end"}],
    "viewport": {"zoom": 1.5},
}


def _body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Researcher",
        "description": "Finds papers about Rust",
        "system_prompt": "You are careful.",
        "model_config": {
            "provider": "openai",
            "model_name": "deepseek-v4-pro",
            "temperature": 0.8,
            "top_p": 0.9,
        },
        "iteration_limit": 7,
        "include_tools": ["web_search", "calculator"],
        "knowledge_base_ids": ["kb-1"],
        "workflow_config": WORKFLOW,
        "settings": {"memory": {"window": 10}, "tags": ["a", "b"]},
    }
    body.update(over)
    return body


async def _create(client: httpx.AsyncClient, headers: Headers, **over: Any) -> Any:
    response = await client.post(URL, json=_body(**over), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _user_id(client: httpx.AsyncClient, headers: Headers) -> str:
    return str((await client.get("/api/v1/auth/me", headers=headers)).json()["id"])


async def test_create_returns_the_whole_definition_and_stores_version_one(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    created = await _create(client, user_headers)
    body = _body()
    for key, value in body.items():
        assert created[key] == value, key
    assert created["status"] == "draft" and created["version"] == 1
    assert created["is_main"] is False
    assert created["owner_id"] == await _user_id(client, user_headers)
    assert len(created["id"]) == 36 and created["created_at"] and created["updated_at"]
    versions = (await client.get(f"{URL}/{created['id']}/versions", headers=user_headers)).json()
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["created_by"] == created["owner_id"]


async def test_create_fills_defaults(client: httpx.AsyncClient, user_headers: Headers) -> None:
    response = await client.post(URL, json={"name": "  bare  "}, headers=user_headers)
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "bare"
    assert created["iteration_limit"] == 15
    assert created["include_tools"] == [] and created["knowledge_base_ids"] == []
    assert created["model_config"] == {} and created["settings"] == {}
    assert created["workflow_config"] is None and created["description"] == ""


async def test_get_returns_the_agent(client: httpx.AsyncClient, user_headers: Headers) -> None:
    created = await _create(client, user_headers)
    response = await client.get(f"{URL}/{created['id']}", headers=user_headers)
    assert response.status_code == 200
    assert response.json() == created


async def test_unknown_agent_is_404(client: httpx.AsyncClient, user_headers: Headers) -> None:
    response = await client.get(f"{URL}/00000000-0000-0000-0000-000000000000", headers=user_headers)
    assert response.status_code == 404
    assert response.json()["error"] == "AGENT_NOT_FOUND"


async def test_list_is_paged_and_scoped_and_admins_see_all(
    client: httpx.AsyncClient,
    user_headers: Headers,
    other_headers: Headers,
    admin_headers: Headers,
) -> None:
    for i in range(3):
        await _create(client, user_headers, name=f"a{i}")
    await _create(client, other_headers, name="bobs")
    page1 = await client.get(URL, params={"page": 1, "page_size": 2}, headers=user_headers)
    assert page1.status_code == 200
    first = page1.json()
    assert first["total"] == 3 and len(first["items"]) == 2
    assert first["page"] == 1 and first["page_size"] == 2
    second = (
        await client.get(URL, params={"page": 2, "page_size": 2}, headers=user_headers)
    ).json()
    names = [item["name"] for item in first["items"] + second["items"]]
    assert sorted(names) == ["a0", "a1", "a2"]
    assert names == ["a2", "a1", "a0"]  # newest first
    everything = (await client.get(URL, headers=admin_headers)).json()
    assert everything["total"] == 4


async def test_list_searches_name_and_description_ignoring_case(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    await _create(client, user_headers, name="Alpha Writer", description="essays")
    await _create(client, user_headers, name="Coder", description="Writes PYTHON code")
    await _create(client, user_headers, name="Other", description="100% done")

    async def names(search: str) -> set[str]:
        response = await client.get(URL, params={"search": search}, headers=user_headers)
        assert response.status_code == 200
        return {item["name"] for item in response.json()["items"]}

    assert await names("WRIT") == {"Alpha Writer", "Coder"}
    assert await names("python") == {"Coder"}
    assert await names("%") == {"Other"}  # wildcards are matched literally
    assert await names("nothing-like-this") == set()


async def test_list_filters_by_status(client: httpx.AsyncClient, user_headers: Headers) -> None:
    draft = await _create(client, user_headers, name="draft")
    live = await _create(client, user_headers, name="live")
    await client.post(f"{URL}/{live['id']}/deploy", headers=user_headers)
    deployed = (await client.get(URL, params={"status": "deployed"}, headers=user_headers)).json()
    assert [item["id"] for item in deployed["items"]] == [live["id"]]
    drafts = (await client.get(URL, params={"status": "draft"}, headers=user_headers)).json()
    assert [item["id"] for item in drafts["items"]] == [draft["id"]]


@pytest.mark.parametrize(
    "params",
    [{"status": "running"}, {"page": 0}, {"page_size": 101}, {"page_size": 0}],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, user_headers: Headers, params: dict[str, Any]
) -> None:
    response = await client.get(URL, params=params, headers=user_headers)
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"name": ""}, "body.name"),
        ({"name": "   "}, "body.name"),
        ({"name": "x" * 101}, "body.name"),
        ({"name": None}, "body.name"),
        ({"model_config": {"temperature": 3}}, "body.model_config.temperature"),
        ({"model_config": {"max_tokens": 0}}, "body.model_config.max_tokens"),
        ({"model_config": {"thinking": "maybe"}}, "body.model_config.thinking"),
        ({"model_config": "gpt"}, "body.model_config"),
        ({"model_config": {"api_key": "sk-secret"}}, "body.model_config"),
        ({"iteration_limit": 0}, "body.iteration_limit"),
        ({"iteration_limit": 101}, "body.iteration_limit"),
        ({"include_tools": [1]}, "body.include_tools.0"),
        ({"include_tools": "web_search"}, "body.include_tools"),
        ({"knowledge_base_ids": [{"id": 1}]}, "body.knowledge_base_ids.0"),
        ({"settings": []}, "body.settings"),
        ({"workflow_config": {"nodes": [{"id": "a"}]}}, "body.workflow_config.nodes.0.type"),
        ({"workflow_config": {"nodes": "x"}}, "body.workflow_config.nodes"),
    ],
)
async def test_bad_create_input_is_422_naming_the_field(
    client: httpx.AsyncClient, user_headers: Headers, override: dict[str, Any], field: str
) -> None:
    response = await client.post(URL, json=_body(**override), headers=user_headers)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "VALIDATION_ERROR" and body["message"]
    assert field in {d["field"] for d in body["details"]}


@pytest.mark.parametrize(
    ("workflow", "phrase"),
    [
        (
            {"nodes": [{"id": "a", "type": "start"}, {"id": "a", "type": "end"}], "edges": []},
            "duplicate node id 'a'",
        ),
        (
            {"nodes": [{"id": "a", "type": "start"}], "edges": [{"source": "a", "target": "b"}]},
            "edge 0 target 'b' is not a node id",
        ),
        (
            {"nodes": [{"id": "a", "type": "start"}], "edges": [{"source": "z", "target": "a"}]},
            "edge 0 source 'z' is not a node id",
        ),
    ],
)
async def test_inconsistent_workflow_graph_is_422_with_a_clear_message(
    client: httpx.AsyncClient, user_headers: Headers, workflow: dict[str, Any], phrase: str
) -> None:
    response = await client.post(URL, json=_body(workflow_config=workflow), headers=user_headers)
    assert response.status_code == 422
    assert phrase in response.json()["message"]


async def test_update_bumps_version_and_every_earlier_version_stays_readable(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    created = await _create(client, user_headers)
    path = f"{URL}/{created['id']}"
    response = await client.put(
        path, json={"system_prompt": "v2 prompt", "iteration_limit": 3}, headers=user_headers
    )
    assert response.status_code == 200
    v2 = response.json()
    assert v2["version"] == 2
    assert v2["system_prompt"] == "v2 prompt" and v2["iteration_limit"] == 3
    # Fields that were not sent are kept.
    assert v2["name"] == created["name"] and v2["workflow_config"] == WORKFLOW
    v3 = (await client.put(path, json={"workflow_config": None}, headers=user_headers)).json()
    assert v3["version"] == 3 and v3["workflow_config"] is None

    versions = (await client.get(f"{path}/versions", headers=user_headers)).json()
    assert [v["version"] for v in versions] == [1, 2, 3]
    one = (await client.get(f"{path}/versions/1", headers=user_headers)).json()
    assert one["version"] == 1
    assert one["snapshot"]["system_prompt"] == "You are careful."
    assert one["snapshot"]["model_config"] == _body()["model_config"]
    assert one["snapshot"]["workflow_config"] == WORKFLOW
    two = (await client.get(f"{path}/versions/2", headers=user_headers)).json()
    assert two["snapshot"]["system_prompt"] == "v2 prompt"
    assert two["snapshot"]["workflow_config"] == WORKFLOW
    three = (await client.get(f"{path}/versions/3", headers=user_headers)).json()
    assert three["snapshot"]["workflow_config"] is None


async def test_unchanged_update_keeps_the_version(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    created = await _create(client, user_headers)
    response = await client.put(
        f"{URL}/{created['id']}", json={"name": created["name"]}, headers=user_headers
    )
    assert response.status_code == 200 and response.json()["version"] == 1


async def test_unknown_version_is_404(client: httpx.AsyncClient, user_headers: Headers) -> None:
    created = await _create(client, user_headers)
    response = await client.get(f"{URL}/{created['id']}/versions/9", headers=user_headers)
    assert response.status_code == 404
    assert response.json()["error"] == "AGENT_VERSION_NOT_FOUND"
    bad = await client.get(f"{URL}/{created['id']}/versions/zero", headers=user_headers)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"name": None}, "body.name"),
        ({"system_prompt": None}, "body.system_prompt"),
        ({"model_config": {"temperature": -1}}, "body.model_config.temperature"),
        ({"iteration_limit": 500}, "body.iteration_limit"),
        ({"workflow_config": {"nodes": [{"type": "x"}]}}, "body.workflow_config.nodes.0.id"),
    ],
)
async def test_bad_update_is_422(
    client: httpx.AsyncClient, user_headers: Headers, body: dict[str, Any], field: str
) -> None:
    created = await _create(client, user_headers)
    response = await client.put(f"{URL}/{created['id']}", json=body, headers=user_headers)
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"
    assert field in {d["field"] for d in response.json()["details"]}
    after = (await client.get(f"{URL}/{created['id']}", headers=user_headers)).json()
    assert after["version"] == 1


async def test_deploy_and_stop_follow_the_lifecycle_without_bumping_the_version(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    created = await _create(client, user_headers)
    path = f"{URL}/{created['id']}"
    for action, status in (("deploy", "deployed"), ("stop", "stopped"), ("deploy", "deployed")):
        response = await client.post(f"{path}/{action}", headers=user_headers)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
        assert response.json()["version"] == 1
    versions = (await client.get(f"{path}/versions", headers=user_headers)).json()
    assert [v["version"] for v in versions] == [1]


@pytest.mark.parametrize(
    ("setup", "action", "states"),
    [
        (["deploy"], "deploy", ("deployed", "deployed")),
        ([], "stop", ("draft", "stopped")),
        (["deploy", "stop"], "stop", ("stopped", "stopped")),
    ],
)
async def test_illegal_status_transition_is_409_naming_both_states(
    client: httpx.AsyncClient,
    user_headers: Headers,
    setup: list[str],
    action: str,
    states: tuple[str, str],
) -> None:
    created = await _create(client, user_headers)
    path = f"{URL}/{created['id']}"
    for step in setup:
        assert (await client.post(f"{path}/{step}", headers=user_headers)).status_code == 200
    response = await client.post(f"{path}/{action}", headers=user_headers)
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "INVALID_STATUS_TRANSITION"
    assert f"'{states[0]}'" in body["message"] and f"'{states[1]}'" in body["message"]


async def test_delete_unbinds_conversations_and_call_logs(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    created = await _create(client, user_headers)
    await client.put(f"{URL}/{created['id']}", json={"name": "v2"}, headers=user_headers)
    user_id = await _user_id(client, user_headers)
    async with session_factory()() as session:
        conversation = Conversation(user_id=user_id, agent_id=created["id"], title="kept")
        log = LLMCallLog(user_id=user_id, agent_id=created["id"], model="m", outcome="ok")
        session.add_all([conversation, log])
        await session.commit()

    response = await client.delete(f"{URL}/{created['id']}", headers=user_headers)
    assert response.status_code == 204
    assert (await client.get(f"{URL}/{created['id']}", headers=user_headers)).status_code == 404
    async with session_factory()() as session:
        kept = await session.get(Conversation, conversation.id)
        kept_log = await session.get(LLMCallLog, log.id)
        assert kept is not None and kept.agent_id is None and kept.title == "kept"
        assert kept_log is not None and kept_log.agent_id is None
        versions = await session.execute(
            select(AgentVersion).where(AgentVersion.agent_id == created["id"])
        )
        assert versions.first() is None
        assert await session.get(Agent, created["id"]) is None


async def test_admin_can_change_and_delete_a_users_agent(
    client: httpx.AsyncClient, user_headers: Headers, admin_headers: Headers
) -> None:
    created = await _create(client, user_headers)
    path = f"{URL}/{created['id']}"
    updated = await client.put(path, json={"description": "by admin"}, headers=admin_headers)
    assert updated.status_code == 200 and updated.json()["version"] == 2
    assert updated.json()["owner_id"] == created["owner_id"]
    assert (await client.delete(path, headers=admin_headers)).status_code == 204
    assert (await client.get(path, headers=user_headers)).status_code == 404


async def test_duplicate_is_an_independent_deep_copy_owned_by_the_caller(
    client: httpx.AsyncClient, user_headers: Headers, admin_headers: Headers
) -> None:
    original = await _create(client, user_headers)
    path = f"{URL}/{original['id']}"
    await client.put(path, json={"system_prompt": "second"}, headers=user_headers)
    await client.post(f"{path}/deploy", headers=user_headers)
    await client.post(f"{path}/create-main-agent", headers=user_headers)

    response = await client.post(f"{path}/duplicate", headers=user_headers)
    assert response.status_code == 201
    copy = response.json()
    assert copy["id"] != original["id"]
    assert copy["name"] == "Researcher (copy)"
    assert copy["status"] == "draft" and copy["version"] == 1 and copy["is_main"] is False
    assert copy["system_prompt"] == "second"
    for key in ("model_config", "workflow_config", "settings", "include_tools"):
        assert copy[key] == original[key]
    copy_path = f"{URL}/{copy['id']}"
    copy_versions = (await client.get(f"{copy_path}/versions", headers=user_headers)).json()
    assert [v["version"] for v in copy_versions] == [1]

    # Changing either one leaves the other as it was.
    changed_workflow = {"nodes": [{"id": "only", "type": "agent"}], "edges": []}
    await client.put(
        copy_path,
        json={"model_config": {"temperature": 0.1}, "workflow_config": changed_workflow},
        headers=user_headers,
    )
    await client.put(path, json={"settings": {"memory": {"window": 99}}}, headers=user_headers)
    again = (await client.get(path, headers=user_headers)).json()
    assert again["model_config"] == original["model_config"]
    assert again["workflow_config"] == WORKFLOW
    copy_again = (await client.get(copy_path, headers=user_headers)).json()
    assert copy_again["settings"] == original["settings"]
    assert copy_again["workflow_config"] == changed_workflow

    # An admin may copy a user's agent; the copy is the admin's.
    admin_copy = (await client.post(f"{path}/duplicate", headers=admin_headers)).json()
    admin_id = await _user_id(client, admin_headers)
    assert admin_copy["owner_id"] == admin_id != original["owner_id"]


async def test_duplicate_of_a_long_name_still_fits(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    original = await _create(client, user_headers, name="n" * 100)
    copy = (await client.post(f"{URL}/{original['id']}/duplicate", headers=user_headers)).json()
    assert len(copy["name"]) == 100 and copy["name"].endswith(" (copy)")


async def test_create_main_agent_keeps_one_main_agent_per_user(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    first = await _create(client, user_headers, name="first")
    second = await _create(client, user_headers, name="second")
    bobs = await _create(client, other_headers, name="bobs")
    for agent, headers in ((first, user_headers), (bobs, other_headers)):
        response = await client.post(f"{URL}/{agent['id']}/create-main-agent", headers=headers)
        assert response.status_code == 200 and response.json()["is_main"] is True
    response = await client.post(f"{URL}/{second['id']}/create-main-agent", headers=user_headers)
    assert response.json()["is_main"] is True and response.json()["version"] == 1
    mine = (await client.get(URL, headers=user_headers)).json()["items"]
    assert {item["name"]: item["is_main"] for item in mine} == {"first": False, "second": True}
    assert (await client.get(f"{URL}/{bobs['id']}", headers=other_headers)).json()["is_main"]


async def test_export_carries_the_definition_and_no_user_ids(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    created = await _create(client, user_headers)
    await client.put(f"{URL}/{created['id']}", json={"iteration_limit": 9}, headers=user_headers)
    response = await client.get(f"{URL}/{created['id']}/export", headers=user_headers)
    assert response.status_code == 200
    exported = response.json()
    assert exported["format"] == "tiangong.agent" and exported["format_version"] == 1
    assert exported["exported_at"]
    agent = exported["agent"]
    assert agent["version"] == 2 and agent["iteration_limit"] == 9
    assert agent["name"] == "Researcher" and agent["description"] == created["description"]
    assert agent["workflow_config"] == WORKFLOW
    assert agent["model_config"] == _body()["model_config"]
    assert created["owner_id"] not in response.text
    assert created["id"] not in response.text
    assert not {"id", "owner_id", "status", "is_main"} & set(agent)


async def test_export_import_export_is_lossless(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    created = await _create(client, user_headers)
    await client.put(f"{URL}/{created['id']}", json={"description": "v2"}, headers=user_headers)
    await client.post(f"{URL}/{created['id']}/deploy", headers=user_headers)
    first = (await client.get(f"{URL}/{created['id']}/export", headers=user_headers)).json()

    response = await client.post(f"{URL}/import", json=first, headers=other_headers)
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["id"] != created["id"]
    assert imported["owner_id"] == await _user_id(client, other_headers)
    assert imported["status"] == "draft" and imported["is_main"] is False
    second = (await client.get(f"{URL}/{imported['id']}/export", headers=other_headers)).json()
    assert second["agent"] == first["agent"]
    versions = (await client.get(f"{URL}/{imported['id']}/versions", headers=other_headers)).json()
    assert [v["version"] for v in versions] == [first["agent"]["version"]]


async def test_import_accepts_a_minimal_document(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    document = {"format": "tiangong.agent", "format_version": 1, "agent": {"name": "tiny"}}
    response = await client.post(f"{URL}/import", json=document, headers=user_headers)
    assert response.status_code == 201
    assert response.json()["version"] == 1 and response.json()["iteration_limit"] == 15


def _doc(**over: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": "tiangong.agent",
        "format_version": 1,
        "agent": {"name": "x", "version": 1},
    }
    document.update(over)
    return document


@pytest.mark.parametrize(
    ("document", "status", "code"),
    [
        (_doc(format="something.else"), 400, "INVALID_AGENT_EXPORT"),
        ({"agent": {"name": "x"}}, 400, "INVALID_AGENT_EXPORT"),
        (_doc(format_version=2), 400, "UNSUPPORTED_FORMAT_VERSION"),
        (_doc(format_version="1"), 400, "INVALID_AGENT_EXPORT"),
        (_doc(format_version=True), 400, "INVALID_AGENT_EXPORT"),
        (_doc(agent=None), 422, "INVALID_AGENT_EXPORT"),
        (_doc(agent="x"), 422, "INVALID_AGENT_EXPORT"),
        (_doc(agent={"description": "no name"}), 422, "INVALID_AGENT_EXPORT"),
        (_doc(agent={"name": "x", "version": 0}), 422, "INVALID_AGENT_EXPORT"),
        (_doc(agent={"name": "x", "iteration_limit": "many"}), 422, "INVALID_AGENT_EXPORT"),
        (
            _doc(agent={"name": "x", "workflow_config": {"edges": [{"source": "a"}]}}),
            422,
            "INVALID_AGENT_EXPORT",
        ),
        ({}, 400, "INVALID_AGENT_EXPORT"),
    ],
)
async def test_bad_import_document_is_a_clear_4xx(
    client: httpx.AsyncClient,
    user_headers: Headers,
    document: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = await client.post(f"{URL}/import", json=document, headers=user_headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code and response.json()["message"]
    assert (await client.get(URL, headers=user_headers)).json()["total"] == 0


async def test_invalid_import_names_the_field(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    document = _doc(agent={"name": "x", "model_config": {"temperature": 9}})
    response = await client.post(f"{URL}/import", json=document, headers=user_headers)
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["details"]}
    assert "agent.model_config.temperature" in fields


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"this is not json", "application/json"),
        (b'{"format": ', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"\xff\xfe\x00", "application/octet-stream"),
        (b"format=tiangong.agent", "application/x-www-form-urlencoded"),
    ],
)
async def test_import_of_a_body_that_is_not_a_json_object_is_422(
    client: httpx.AsyncClient, user_headers: Headers, content: bytes, content_type: str
) -> None:
    response = await client.post(
        f"{URL}/import",
        content=content,
        headers={**user_headers, "Content-Type": content_type},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"


def _calls(agent_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    path = f"{URL}/{agent_id}"
    return [
        ("GET", path, None),
        ("PUT", path, {"name": "x"}),
        ("DELETE", path, None),
        ("GET", f"{path}/versions", None),
        ("GET", f"{path}/versions/1", None),
        ("POST", f"{path}/deploy", None),
        ("POST", f"{path}/stop", None),
        ("POST", f"{path}/duplicate", None),
        ("GET", f"{path}/export", None),
        ("POST", f"{path}/create-main-agent", None),
    ]


async def test_every_endpoint_needs_a_token(client: httpx.AsyncClient) -> None:
    some = "00000000-0000-0000-0000-000000000000"
    calls = [
        ("GET", URL, None),
        ("POST", URL, _body()),
        ("POST", f"{URL}/import", _doc()),
        *_calls(some),
    ]
    for method, path, body in calls:
        response = await client.request(method, path, json=body)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == "NOT_AUTHENTICATED"


async def test_another_users_agent_is_404_for_every_endpoint(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    created = await _create(client, user_headers)
    await client.post(f"{URL}/{created['id']}/deploy", headers=user_headers)
    for method, path, body in _calls(created["id"]):
        response = await client.request(method, path, json=body, headers=other_headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "AGENT_NOT_FOUND"
    listed = (await client.get(URL, headers=other_headers)).json()
    assert listed["total"] == 0
    # Nothing changed for the owner.
    still = (await client.get(f"{URL}/{created['id']}", headers=user_headers)).json()
    assert still["name"] == created["name"] and still["status"] == "deployed"
    assert still["is_main"] is False and still["version"] == 1
