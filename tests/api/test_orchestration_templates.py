"""Orchestration templates: CRUD of the caller's own, the builtin read-only examples listed
alongside, and the structure each mode needs."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.asserts import assert_error

API = "/api/v1/orchestration-templates"
BUILTIN_IDS = {
    "builtin_research_pipeline",
    "builtin_parallel_code_review",
    "builtin_support_supervisor",
    "builtin_debate",
    "builtin_campaign_graph",
}


def role(name: str, **over: Any) -> dict[str, Any]:
    return {"name": name, "agent": {"system_prompt": f"You are {name}."}, **over}


def template(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Support desk",
        "description": "A supervisor routes questions",
        "mode": "supervisor",
        "roles": [role("lead"), role("billing"), role("tech", instructions="Fix it")],
        "coordinator": "lead",
        "max_rounds": 4,
    }
    body.update(over)
    return body


async def create(client: httpx.AsyncClient, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    response = await client.post(API, json=template(**over), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_crud_of_own_templates(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    created = await create(client, user_headers)
    assert created["builtin"] is False and created["read_only"] is False
    assert created["owner_id"] and created["created_at"]
    assert created["roles"][2]["instructions"] == "Fix it"
    assert created["roles"][0]["agent"]["system_prompt"] == "You are lead."
    url = f"{API}/{created['id']}"
    got = (await client.get(url, headers=user_headers)).json()
    assert got == created

    updated = await client.put(
        url, json={"name": "Desk", "max_rounds": 2, "coordinator": "billing"}, headers=user_headers
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["name"] == "Desk" and body["max_rounds"] == 2 and body["coordinator"] == "billing"
    assert body["roles"] == created["roles"]
    # Switching mode is checked as a whole: sequential takes no coordinator.
    assert_error(
        await client.put(url, json={"mode": "sequential"}, headers=user_headers),
        422,
        "INVALID_ORCHESTRATION",
    )
    switched = await client.put(
        url,
        json={"mode": "sequential", "coordinator": None, "order": ["tech", "billing", "lead"]},
        headers=user_headers,
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["order"] == ["tech", "billing", "lead"]
    assert switched.json()["coordinator"] is None
    for bad in ({}, {"name": None}, {"roles": []}, {"max_rounds": 0}, {"mode": "chaos"}):
        assert_error(await client.put(url, json=bad, headers=user_headers), 422, "VALIDATION_ERROR")

    assert (await client.delete(url, headers=user_headers)).status_code == 204
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, url, json={"name": "x"}, headers=user_headers)
        assert_error(response, 404, "ORCHESTRATION_TEMPLATE_NOT_FOUND")


async def test_builtin_examples_are_listed_first_and_read_only(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    own = await create(client, user_headers)
    listed = (await client.get(API, headers=user_headers)).json()
    assert listed["total"] == 6
    assert {t["id"] for t in listed["items"][:5]} == BUILTIN_IDS
    assert all(
        t["builtin"] and t["read_only"] and t["owner_id"] is None for t in listed["items"][:5]
    )
    assert {t["mode"] for t in listed["items"][:5]} == {
        "sequential",
        "parallel",
        "supervisor",
        "debate",
        "graph",
    }
    assert listed["items"][5]["id"] == own["id"]

    # Paging runs across both parts.
    page2 = (await client.get(API, params={"page_size": 4, "page": 2}, headers=user_headers)).json()
    assert [t["builtin"] for t in page2["items"]] == [True, False] and page2["total"] == 6
    only_own = (await client.get(API, params={"builtin": "false"}, headers=user_headers)).json()
    assert [t["id"] for t in only_own["items"]] == [own["id"]] and only_own["total"] == 1
    only_builtin = (await client.get(API, params={"builtin": "true"}, headers=user_headers)).json()
    assert only_builtin["total"] == 5
    by_mode = (await client.get(API, params={"mode": "supervisor"}, headers=user_headers)).json()
    assert {t["id"] for t in by_mode["items"]} == {"builtin_support_supervisor", own["id"]}
    by_text = (await client.get(API, params={"q": "routes"}, headers=user_headers)).json()
    assert [t["id"] for t in by_text["items"]] == [own["id"]]
    assert_error(
        await client.get(API, params={"mode": "chaos"}, headers=user_headers),
        422,
        "VALIDATION_ERROR",
    )

    example = await client.get(f"{API}/builtin_campaign_graph", headers=user_headers)
    assert example.status_code == 200 and len(example.json()["edges"]) == 4
    for method in ("PUT", "DELETE"):
        response = await client.request(
            method, f"{API}/builtin_debate", json={"name": "mine"}, headers=user_headers
        )
        assert_error(response, 403, "ORCHESTRATION_TEMPLATE_READ_ONLY")


async def test_mode_specific_structure_is_checked(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    three = [role("a"), role("b"), role("c")]
    bad = [
        template(coordinator=None),  # supervisor without supervisor
        template(coordinator="nobody"),
        template(roles=[role("lead")]),  # supervisor with no workers
        template(roles=[role("a"), role("a")], coordinator="a"),
        template(mode="sequential", roles=[role("a")], coordinator=None),
        template(mode="sequential", roles=three, coordinator=None, order=["a", "b"]),
        template(mode="sequential", roles=three, coordinator=None, order=["a", "b", "b"]),
        template(mode="parallel", roles=[role("a"), role("b")], coordinator="a"),
        template(mode="debate", roles=[role("a")], coordinator=None),
        template(mode="parallel", roles=three, coordinator=None, order=["a", "b", "c"]),
        template(mode="graph", roles=three, coordinator=None),  # no edges
        template(
            mode="graph",
            roles=three,
            coordinator=None,
            edges=[{"source": "a", "target": "b"}, {"source": "b", "target": "x"}],
        ),
        template(
            mode="graph",
            roles=three,
            coordinator=None,
            edges=[{"source": "a", "target": "b"}, {"source": "b", "target": "a"}],
        ),  # c has no edge, and no role to start with
        template(
            mode="graph",
            roles=[role("a"), role("b")],
            coordinator=None,
            edges=[{"source": "a", "target": "a"}, {"source": "a", "target": "b"}],
        ),
        template(mode="supervisor", edges=[{"source": "lead", "target": "tech"}]),
    ]
    for body in bad:
        response = await client.post(API, json=body, headers=user_headers)
        assert_error(response, 422, "INVALID_ORCHESTRATION")
        assert response.json()["details"][0]["message"]
    field_errors = [
        template(roles=[]),
        template(mode="swarm"),
        template(max_rounds=51),
        template(roles=[{"name": "a"}]),  # neither agent_id nor agent
        template(roles=[{"name": "a", "agent_id": "x", "agent": {}}]),
        template(roles=[role("a", extra=1)]),
        template(roles=[role("x" * 51)]),
        template(name=""),
    ]
    for body in field_errors:
        assert_error(
            await client.post(API, json=body, headers=user_headers), 422, "VALIDATION_ERROR"
        )
    graph = await create(
        client,
        user_headers,
        mode="graph",
        roles=three,
        coordinator=None,
        edges=[
            {"source": "a", "target": "b", "condition": "when a is done"},
            {"source": "b", "target": "c"},
            {"source": "c", "target": "b"},
        ],
    )
    assert graph["edges"][0]["condition"] == "when a is done"
    await create(client, user_headers, mode="debate", roles=three, coordinator="c")
    await create(client, user_headers, mode="parallel", roles=three, coordinator=None)


async def test_roles_may_name_the_callers_agents_only(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    agent = await client.post("/api/v1/agents", json={"name": "billing bot"}, headers=user_headers)
    agent_id = agent.json()["id"]
    roles = [role("lead"), {"name": "billing", "agent_id": agent_id}]
    created = await create(client, user_headers, roles=roles)
    assert created["roles"][1]["agent_id"] == agent_id and created["roles"][1]["agent"] is None
    # Another user cannot use alice's agent in a template.
    response = await client.post(API, json=template(roles=roles), headers=other_headers)
    assert_error(response, 422, "INVALID_ORCHESTRATION")
    assert agent_id in response.json()["message"]


async def test_templates_are_private_and_need_a_token(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    own = await create(client, user_headers)
    url = f"{API}/{own['id']}"
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, url, json={"name": "x"}, headers=other_headers)
        assert_error(response, 404, "ORCHESTRATION_TEMPLATE_NOT_FOUND")
    theirs = (await client.get(API, params={"builtin": "false"}, headers=other_headers)).json()
    assert theirs["total"] == 0
    for method, path in (("GET", API), ("POST", API), ("GET", url), ("PUT", url), ("DELETE", url)):
        response = await client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
