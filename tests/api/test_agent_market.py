"""Agent market: publishing snapshots of agents, visibility of drafts and unpublished listings,
search, installs (one per user), versions and upgrades, ratings and favourites, and counts that
stay right under concurrent installs and ratings."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.asserts import assert_error
from tests.conftest import register

API = "/api/v1/agent-market"
AGENTS = "/api/v1/agents"
Headers = dict[str, str]

GRAPH = {
    "nodes": [
        {"id": "start", "type": "start"},
        {
            "id": "fetch",
            "type": "http_request",
            "config": {
                "url": "https://example.com/api",
                "headers": {"Authorization": "Bearer sk-secret", "Accept": "application/json"},
            },
        },
        {"id": "end", "type": "end"},
    ],
    "edges": [{"source": "start", "target": "fetch"}, {"source": "fetch", "target": "end"}],
}


async def make_agent(client: httpx.AsyncClient, headers: Headers, **over: Any) -> Any:
    body: dict[str, Any] = {
        "name": "Researcher",
        "description": "Finds papers",
        "system_prompt": "You are careful.",
        "model_config": {"config_id": "cfg-private", "model": "my-gpt", "temperature": 0.3},
        "iteration_limit": 7,
        "include_tools": ["calculator"],
        "knowledge_base_ids": ["kb-private"],
        "workflow_config": GRAPH,
        "settings": {"memory": {"window": 10}},
        **over,
    }
    response = await client.post(AGENTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def publish(
    client: httpx.AsyncClient, headers: Headers, source_id: str, api: str = API, **over: Any
) -> Any:
    body = {"source_id": source_id, "summary": "Reads papers", "category": "research", **over}
    response = await client.post(api, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def users(client: httpx.AsyncClient, count: int, prefix: str = "u") -> list[Headers]:
    return [
        await register(client, f"{prefix}{i}@example.com", f"{prefix}{i}") for i in range(count)
    ]


async def test_publish_snapshots_the_agent_without_private_model_config_or_secrets(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    listing = await publish(client, user_headers, agent["id"], tags=["论文", "research", "论文"])
    assert listing["kind"] == "agent"
    assert listing["status"] == "published" and listing["published_at"]
    assert listing["name"] == "Researcher"
    assert listing["author_name"] == "alice"
    assert listing["version"] == 1
    assert listing["tags"] == ["论文", "research"]
    assert (listing["install_count"], listing["rating_count"], listing["favorite_count"]) == (
        0,
        0,
        0,
    )
    assert listing["rating_average"] is None
    content = listing["content"]
    assert content["model_config"] == {"temperature": 0.3}
    assert "knowledge_base_ids" not in content
    assert content["system_prompt"] == "You are careful."
    assert content["include_tools"] == ["calculator"]
    headers = content["workflow_config"]["nodes"][1]["config"]["headers"]
    assert headers == {"Authorization": "", "Accept": "application/json"}
    assert "sk-secret" not in str(listing)
    # The author's own agent is untouched.
    own = (await client.get(f"{AGENTS}/{agent['id']}", headers=user_headers)).json()
    assert own["model_config"]["config_id"] == "cfg-private"


async def test_publish_checks_the_source_and_the_input(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    response = await client.post(API, json={"source_id": agent["id"]}, headers=other_headers)
    assert_error(response, 404, "AGENT_NOT_FOUND")
    response = await client.post(API, json={"source_id": "nope"}, headers=user_headers)
    assert_error(response, 404, "AGENT_NOT_FOUND")
    await publish(client, user_headers, agent["id"])
    response = await client.post(API, json={"source_id": agent["id"]}, headers=user_headers)
    assert_error(response, 409, "ALREADY_PUBLISHED")
    for bad in (
        {},
        {"source_id": ""},
        {"source_id": agent["id"], "status": "unpublished"},
        {"source_id": agent["id"], "tags": ["x"] * 21},
        {"source_id": agent["id"], "summary": "x" * 301},
        {"source_id": agent["id"], "category": " "},
        {"source_id": agent["id"], "extra": 1},
    ):
        assert_error(
            await client.post(API, json=bad, headers=user_headers), 422, "VALIDATION_ERROR"
        )
    assert_error(await client.post(API, json={"source_id": agent["id"]}), 401, "NOT_AUTHENTICATED")


async def test_drafts_and_unpublished_listings_are_seen_only_by_the_author_and_admins(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers, admin_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    draft = await publish(client, user_headers, agent["id"], status="draft")
    assert draft["status"] == "draft" and draft["published_at"] is None
    url = f"{API}/{draft['id']}"
    assert (await client.get(url, headers=user_headers)).status_code == 200
    assert_error(await client.get(url, headers=other_headers), 404, "LISTING_NOT_FOUND")
    assert (await client.get(API, headers=other_headers)).json()["total"] == 0
    assert (await client.get(API, headers=user_headers)).json()["total"] == 1
    mine = (await client.get(API, params={"mine": "true"}, headers=user_headers)).json()
    assert [item["id"] for item in mine["items"]] == [draft["id"]]
    for action in ("install", "upgrade"):
        response = await client.post(f"{url}/{action}", headers=other_headers)
        assert_error(response, 404, "LISTING_NOT_FOUND")
    response = await client.put(f"{url}/rating", json={"score": 5}, headers=other_headers)
    assert_error(response, 404, "LISTING_NOT_FOUND")
    # A draft is published once; it never goes straight to unpublished.
    response = await client.put(url, json={"status": "unpublished"}, headers=user_headers)
    assert_error(response, 409, "INVALID_STATUS_TRANSITION")
    published = (await client.put(url, json={"status": "published"}, headers=user_headers)).json()
    assert published["status"] == "published" and published["published_at"]
    assert (await client.get(url, headers=other_headers)).status_code == 200
    # Others see it but cannot change or delete it.
    response = await client.put(url, json={"name": "Mine now"}, headers=other_headers)
    assert_error(response, 403, "NOT_LISTING_AUTHOR")
    assert_error(await client.delete(url, headers=other_headers), 403, "NOT_LISTING_AUTHOR")
    # An admin may unpublish anyone's listing, and still sees it.
    response = await client.put(url, json={"status": "unpublished"}, headers=admin_headers)
    assert response.json()["status"] == "unpublished"
    assert_error(await client.get(url, headers=other_headers), 404, "LISTING_NOT_FOUND")
    assert (await client.get(url, headers=admin_headers)).status_code == 200
    listed = await client.get(API, params={"status": "unpublished"}, headers=user_headers)
    assert listed.json()["total"] == 1
    assert_error(await client.get(url), 401, "NOT_AUTHENTICATED")


async def test_update_changes_metadata_only_and_validates(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    listing = await publish(client, user_headers, agent["id"])
    url = f"{API}/{listing['id']}"
    body = {"name": "Paper bot", "summary": "s", "tags": ["a", "b"], "category": "office"}
    updated = (await client.put(url, json=body, headers=user_headers)).json()
    assert (updated["name"], updated["tags"], updated["category"]) == (
        "Paper bot",
        ["a", "b"],
        "office",
    )
    assert updated["version"] == 1 and updated["content"] == listing["content"]
    tagged = await client.get(API, params={"tag": "b"}, headers=user_headers)
    assert tagged.json()["total"] == 1
    assert (await client.get(API, params={"tag": "research"}, headers=user_headers)).json()[
        "total"
    ] == 0
    for bad in ({"status": "draft"}, {"name": " "}, {"tags": "a"}, {"version": 3}):
        assert_error(await client.put(url, json=bad, headers=user_headers), 422, "VALIDATION_ERROR")
    response = await client.put(f"{API}/missing", json={"name": "x"}, headers=user_headers)
    assert_error(response, 404, "LISTING_NOT_FOUND")


async def test_list_searches_filters_sorts_and_pages(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    specs = [
        ("Paper reader", "research", ["papers"]),
        ("Weekly report", "office", ["reports"]),
        ("Code reviewer", "dev", ["code", "papers"]),
    ]
    ids = []
    for name, category, tags in specs:
        agent = await make_agent(client, user_headers, name=name)
        listing = await publish(client, user_headers, agent["id"], category=category, tags=tags)
        ids.append(listing["id"])
    # Installs: the report bot twice (two users), the reviewer once; ratings favour the reader.
    carol = await register(client, "carol@example.com", "carol")
    for headers, index in ((other_headers, 1), (carol, 1), (other_headers, 2)):
        assert (
            await client.post(f"{API}/{ids[index]}/install", headers=headers)
        ).status_code == 201
    await client.put(f"{API}/{ids[0]}/rating", json={"score": 5}, headers=other_headers)
    await client.put(f"{API}/{ids[2]}/rating", json={"score": 2}, headers=other_headers)

    async def names(**params: Any) -> list[str]:
        response = await client.get(API, params=params, headers=other_headers)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names(q="REPORT") == ["Weekly report"]
    assert await names(q="reads papers") == ["Code reviewer", "Weekly report", "Paper reader"]
    assert await names(category="dev") == ["Code reviewer"]
    assert sorted(await names(tag="papers")) == ["Code reviewer", "Paper reader"]
    assert await names(sort="newest") == ["Code reviewer", "Weekly report", "Paper reader"]
    assert await names(sort="installs") == ["Weekly report", "Code reviewer", "Paper reader"]
    assert await names(sort="rating") == ["Paper reader", "Code reviewer", "Weekly report"]
    page = (await client.get(API, params={"page": 2, "page_size": 2}, headers=other_headers)).json()
    assert (page["total"], len(page["items"]), page["page"]) == (3, 1, 2)
    for bad in ({"sort": "random"}, {"page": 0}, {"page_size": 101}, {"q": "x" * 101}):
        response = await client.get(API, params=bad, headers=other_headers)
        assert_error(response, 422, "VALIDATION_ERROR")
    categories = (await client.get(f"{API}/categories", headers=other_headers)).json()
    assert {c["category"]: c["count"] for c in categories} == {"research": 1, "office": 1, "dev": 1}
    assert_error(await client.get(f"{API}/categories"), 401, "NOT_AUTHENTICATED")


async def test_install_makes_an_agent_of_the_installer_once(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    listing = await publish(client, user_headers, agent["id"])
    url = f"{API}/{listing['id']}/install"
    response = await client.post(url, json={"name": "My reader"}, headers=other_headers)
    assert response.status_code == 201, response.text
    result = response.json()
    installed = result["agent"]
    me = (await client.get("/api/v1/auth/me", headers=other_headers)).json()
    assert installed["owner_id"] == me["id"] and installed["id"] != agent["id"]
    assert installed["name"] == "My reader" and installed["status"] == "draft"
    assert installed["system_prompt"] == "You are careful."
    assert installed["model_config"] == {"temperature": 0.3}
    assert installed["knowledge_base_ids"] == []
    assert result["install"]["target_id"] == installed["id"]
    assert result["install"]["listing_version"] == 1
    assert (
        await client.get(f"{AGENTS}/{installed['id']}", headers=other_headers)
    ).status_code == 200
    # Installing again is refused, naming the copy already made.
    body = assert_error(await client.post(url, headers=other_headers), 409, "ALREADY_INSTALLED")
    assert body["details"]["target_id"] == installed["id"]
    mine = (await client.get(f"{API}/installed", headers=other_headers)).json()
    assert mine["total"] == 1
    item = mine["items"][0]
    assert (item["listing_id"], item["target_id"]) == (listing["id"], installed["id"])
    assert item["upgrade_available"] is False and item["locally_modified"] is False
    detail = (await client.get(f"{API}/{listing['id']}", headers=other_headers)).json()
    assert detail["install_count"] == 1
    assert detail["installed"]["target_id"] == installed["id"]
    assert (await client.get(f"{API}/installed", headers=user_headers)).json()["total"] == 0
    # Deleting the copy ends the install; installing again makes a new copy and counts.
    assert (
        await client.delete(f"{AGENTS}/{installed['id']}", headers=other_headers)
    ).status_code == 204
    assert (await client.get(f"{API}/installed", headers=other_headers)).json()["total"] == 0
    again = await client.post(url, headers=other_headers)
    assert again.status_code == 201, again.text
    detail = (await client.get(f"{API}/{listing['id']}", headers=other_headers)).json()
    assert detail["install_count"] == 2
    # The author may install a copy of their own listing too.
    assert (await client.post(url, headers=user_headers)).status_code == 201
    response = await client.post(url, json={"name": ""}, headers=other_headers)
    assert_error(response, 422, "VALIDATION_ERROR")
    assert_error(
        await client.post(f"{API}/missing/install", headers=other_headers), 404, "LISTING_NOT_FOUND"
    )
    assert_error(await client.post(url), 401, "NOT_AUTHENTICATED")


async def test_new_version_and_upgrade_keep_the_installers_own_settings_and_history(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    listing = await publish(client, user_headers, agent["id"])
    lid = listing["id"]
    response = await client.post(f"{API}/{lid}/versions", headers=user_headers)
    assert_error(response, 409, "VERSION_UNCHANGED")
    installed = (await client.post(f"{API}/{lid}/install", headers=other_headers)).json()["agent"]
    response = await client.post(f"{API}/{lid}/upgrade", headers=other_headers)
    assert_error(response, 409, "ALREADY_UP_TO_DATE")
    # Bob points his copy at his own model; that is his, and an upgrade keeps it.
    agent_url = f"{AGENTS}/{installed['id']}"
    bob_model = {"config_id": "bobs-model", "temperature": 0.9}
    edited = await client.put(agent_url, json={"model_config": bob_model}, headers=other_headers)
    assert edited.json()["version"] == 2
    # Alice improves her agent and publishes version 2.
    change = {"system_prompt": "You are very careful.", "model_config": {"temperature": 0.1}}
    await client.put(f"{AGENTS}/{agent['id']}", json=change, headers=user_headers)
    response = await client.post(
        f"{API}/{lid}/versions", json={"changelog": "more careful"}, headers=user_headers
    )
    assert response.status_code == 201, response.text
    assert (response.json()["version"], response.json()["changelog"]) == (2, "more careful")
    response = await client.post(f"{API}/{lid}/versions", headers=other_headers)
    assert_error(response, 403, "NOT_LISTING_AUTHOR")
    history = (await client.get(f"{API}/{lid}/versions", headers=other_headers)).json()
    assert [v["version"] for v in history] == [2, 1]
    assert history[1]["content"]["system_prompt"] == "You are careful."
    item = (await client.get(f"{API}/installed", headers=other_headers)).json()["items"][0]
    assert item["upgrade_available"] is True and item["locally_modified"] is True
    assert item["latest_version"] == 2
    # Bob edited his copy, so the upgrade waits for force.
    response = await client.post(f"{API}/{lid}/upgrade", headers=other_headers)
    assert_error(response, 409, "LOCAL_CHANGES")
    response = await client.post(
        f"{API}/{lid}/upgrade", json={"force": True}, headers=other_headers
    )
    assert response.status_code == 200, response.text
    result = response.json()
    upgraded = result["agent"]
    assert result["previous_agent_version"] == 2
    assert upgraded["version"] == 3
    assert upgraded["system_prompt"] == "You are very careful."
    assert upgraded["model_config"] == {"config_id": "bobs-model", "temperature": 0.1}
    assert upgraded["name"] == installed["name"]
    assert result["install"]["listing_version"] == 2
    assert result["install"]["locally_modified"] is False
    # Nothing is lost: Bob's edited definition is still version 2 of his agent.
    old = (await client.get(f"{agent_url}/versions/2", headers=other_headers)).json()
    assert old["snapshot"]["model_config"] == bob_model
    assert old["snapshot"]["system_prompt"] == "You are careful."
    response = await client.post(f"{API}/{lid}/upgrade", headers=other_headers)
    assert_error(response, 409, "ALREADY_UP_TO_DATE")
    # A version 3 upgrades an unedited copy without force.
    await client.put(f"{AGENTS}/{agent['id']}", json={"iteration_limit": 3}, headers=user_headers)
    assert (await client.post(f"{API}/{lid}/versions", headers=user_headers)).status_code == 201
    response = await client.post(f"{API}/{lid}/upgrade", headers=other_headers)
    assert response.status_code == 200, response.text
    assert response.json()["agent"]["iteration_limit"] == 3
    # Not installed, bad body, no token.
    carol = await register(client, "carol@example.com", "carol")
    assert_error(await client.post(f"{API}/{lid}/upgrade", headers=carol), 404, "NOT_INSTALLED")
    response = await client.post(
        f"{API}/{lid}/upgrade", json={"force": "maybe"}, headers=other_headers
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    response = await client.post(
        f"{API}/{lid}/versions", json={"changelog": "x" * 2001}, headers=user_headers
    )
    assert_error(response, 422, "VALIDATION_ERROR")
    assert_error(await client.post(f"{API}/{lid}/upgrade"), 401, "NOT_AUTHENTICATED")
    assert_error(
        await client.get(f"{API}/missing/versions", headers=user_headers), 404, "LISTING_NOT_FOUND"
    )


async def test_new_version_needs_the_source_agent(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    listing = await publish(client, user_headers, agent["id"])
    assert (await client.delete(f"{AGENTS}/{agent['id']}", headers=user_headers)).status_code == 204
    # The listing lives on from its snapshot; a new version has nothing to snapshot.
    assert (await client.get(f"{API}/{listing['id']}", headers=user_headers)).status_code == 200
    response = await client.post(f"{API}/{listing['id']}/versions", headers=user_headers)
    assert_error(response, 404, "AGENT_NOT_FOUND")


async def test_ratings_one_per_user_with_average_and_reviews(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    lid = (await publish(client, user_headers, agent["id"]))["id"]
    url = f"{API}/{lid}/rating"
    response = await client.put(url, json={"score": 5}, headers=user_headers)
    assert_error(response, 403, "CANNOT_RATE_OWN")
    first = (
        await client.put(url, json={"score": 4, "review": "好用"}, headers=other_headers)
    ).json()
    assert (first["score"], first["rating_average"], first["rating_count"]) == (4, 4.0, 1)
    again = (await client.put(url, json={"score": 2}, headers=other_headers)).json()
    assert (again["score"], again["review"], again["rating_count"]) == (2, "", 1)
    carol = await register(client, "carol@example.com", "carol")
    await client.put(url, json={"score": 5, "review": "great"}, headers=carol)
    listing = (await client.get(f"{API}/{lid}", headers=other_headers)).json()
    assert (listing["rating_average"], listing["rating_count"], listing["my_rating"]) == (3.5, 2, 2)
    reviews = (await client.get(f"{API}/{lid}/ratings", headers=user_headers)).json()
    assert (reviews["total"], reviews["rating_average"]) == (2, 3.5)
    assert [(r["user_name"], r["score"]) for r in reviews["items"]] == [("carol", 5), ("bob", 2)]
    paged = await client.get(
        f"{API}/{lid}/ratings", params={"page_size": 1, "page": 2}, headers=carol
    )
    assert [r["user_name"] for r in paged.json()["items"]] == ["bob"]
    for bad in (
        {"score": 0},
        {"score": 6},
        {"score": "five"},
        {},
        {"score": 3, "review": "x" * 2001},
    ):
        assert_error(
            await client.put(url, json=bad, headers=other_headers), 422, "VALIDATION_ERROR"
        )
    assert_error(
        await client.put(f"{API}/missing/rating", json={"score": 3}, headers=carol),
        404,
        "LISTING_NOT_FOUND",
    )
    assert_error(
        await client.get(f"{API}/missing/ratings", headers=carol), 404, "LISTING_NOT_FOUND"
    )
    assert_error(await client.put(url, json={"score": 3}), 401, "NOT_AUTHENTICATED")


async def test_favourites_are_idempotent_and_listed(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    first = await publish(client, user_headers, (await make_agent(client, user_headers))["id"])
    second = await publish(
        client, user_headers, (await make_agent(client, user_headers, name="Two"))["id"]
    )
    url = f"{API}/{first['id']}/favorite"
    for _ in range(2):
        assert (await client.put(url, headers=other_headers)).status_code == 204
    detail = (await client.get(f"{API}/{first['id']}", headers=other_headers)).json()
    assert (detail["favorited"], detail["favorite_count"]) == (True, 1)
    faves = (await client.get(API, params={"favorited": "true"}, headers=other_headers)).json()
    assert [item["id"] for item in faves["items"]] == [first["id"]]
    by_faves = (await client.get(API, params={"sort": "favorites"}, headers=user_headers)).json()
    assert [item["id"] for item in by_faves["items"]] == [first["id"], second["id"]]
    for _ in range(2):
        assert (await client.delete(url, headers=other_headers)).status_code == 204
    detail = (await client.get(f"{API}/{first['id']}", headers=other_headers)).json()
    assert (detail["favorited"], detail["favorite_count"]) == (False, 0)
    assert_error(
        await client.put(f"{API}/missing/favorite", headers=other_headers), 404, "LISTING_NOT_FOUND"
    )
    assert_error(
        await client.delete(f"{API}/missing/favorite", headers=other_headers),
        404,
        "LISTING_NOT_FOUND",
    )
    assert_error(await client.put(url), 401, "NOT_AUTHENTICATED")


async def test_deleting_a_listing_keeps_installed_agents(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers, admin_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    lid = (await publish(client, user_headers, agent["id"]))["id"]
    installed = (await client.post(f"{API}/{lid}/install", headers=other_headers)).json()["agent"]
    await client.put(f"{API}/{lid}/rating", json={"score": 3}, headers=other_headers)
    await client.put(f"{API}/{lid}/favorite", headers=other_headers)
    assert (await client.delete(f"{API}/{lid}", headers=user_headers)).status_code == 204
    assert_error(await client.get(f"{API}/{lid}", headers=user_headers), 404, "LISTING_NOT_FOUND")
    assert (
        await client.get(f"{AGENTS}/{installed['id']}", headers=other_headers)
    ).status_code == 200
    assert (await client.get(f"{API}/installed", headers=other_headers)).json()["total"] == 0
    # The agent can be published again; an admin may delete anyone's listing.
    again = await publish(client, user_headers, agent["id"])
    assert (await client.delete(f"{API}/{again['id']}", headers=admin_headers)).status_code == 204
    assert_error(
        await client.delete(f"{API}/{lid}", headers=user_headers), 404, "LISTING_NOT_FOUND"
    )
    assert_error(await client.delete(f"{API}/{lid}"), 401, "NOT_AUTHENTICATED")


async def test_concurrent_installs_and_ratings_are_all_counted(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    agent = await make_agent(client, user_headers)
    lid = (await publish(client, user_headers, agent["id"]))["id"]
    crowd = await users(client, 6)
    scores = [1, 2, 3, 4, 5, 5]
    responses = await asyncio.gather(
        *(client.post(f"{API}/{lid}/install", headers=h) for h in crowd),
        *(
            client.put(f"{API}/{lid}/rating", json={"score": s}, headers=h)
            for h, s in zip(crowd, scores, strict=True)
        ),
    )
    assert [r.status_code for r in responses] == [201] * 6 + [200] * 6, [r.text for r in responses]
    # The same user twice at once: one install wins, the other is a clean 409.
    twice = await asyncio.gather(
        *(client.post(f"{API}/{lid}/install", headers=crowd[0]) for _ in range(2))
    )
    assert sorted(r.status_code for r in twice) == [409, 409]
    fresh = await register(client, "late@example.com", "late")
    race = await asyncio.gather(
        *(client.post(f"{API}/{lid}/install", headers=fresh) for _ in range(2))
    )
    assert sorted(r.status_code for r in race) == [201, 409], [r.text for r in race]
    detail = (await client.get(f"{API}/{lid}", headers=user_headers)).json()
    assert detail["install_count"] == 7
    assert detail["rating_count"] == 6
    assert detail["rating_average"] == round(sum(scores) / 6, 2)
