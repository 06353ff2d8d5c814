"""Template market: workflows published as templates, installs that make a workflow of the
installer's, versions, and the ratings, favourites and visibility it shares with the agent
market (tested in full there)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_agent_market import assert_error, make_agent, publish
from tests.conftest import register

API = "/api/v1/template-market"
WORKFLOWS = "/api/v1/workflows"
Headers = dict[str, str]


def graph(url: str = "https://example.com/api") -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "q"}]}},
            {
                "id": "fetch",
                "type": "http_request",
                "config": {"url": url, "headers": {"X-Api-Key": "k-secret", "Accept": "*/*"}},
            },
            {"id": "end", "type": "end", "config": {"outputs": {"status": "{{fetch.status}}"}}},
        ],
        "edges": [{"source": "start", "target": "fetch"}, {"source": "fetch", "target": "end"}],
    }


async def make_workflow(
    client: httpx.AsyncClient, headers: Headers, definition: dict[str, Any] | None = None
) -> Any:
    body = {"name": "Fetcher", "description": "Fetches a page", "definition": definition or graph()}
    response = await client.post(WORKFLOWS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_publish_snapshots_a_valid_workflow_without_credentials(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    workflow = await make_workflow(client, user_headers)
    listing = await publish(client, user_headers, workflow["id"], api=API, category="data")
    assert (listing["kind"], listing["name"], listing["version"]) == ("template", "Fetcher", 1)
    content = listing["content"]
    assert content["description"] == "Fetches a page"
    headers = content["definition"]["nodes"][1]["config"]["headers"]
    assert headers == {"X-Api-Key": "", "Accept": "*/*"}
    # The two markets are apart: a template is not an agent listing, and the reverse.
    response = await client.get(f"/api/v1/agent-market/{listing['id']}", headers=user_headers)
    assert_error(response, 404, "LISTING_NOT_FOUND")
    agent = await make_agent(client, user_headers)
    response = await client.post(API, json={"source_id": agent["id"]}, headers=user_headers)
    assert_error(response, 404, "WORKFLOW_NOT_FOUND")
    response = await client.post(API, json={"source_id": workflow["id"]}, headers=other_headers)
    assert_error(response, 404, "WORKFLOW_NOT_FOUND")
    response = await client.post(API, json={"source_id": workflow["id"]}, headers=user_headers)
    assert_error(response, 409, "ALREADY_PUBLISHED")
    assert_error(
        await client.post(API, json={"source_id": 5}, headers=user_headers), 422, "VALIDATION_ERROR"
    )
    assert_error(
        await client.post(API, json={"source_id": workflow["id"]}), 401, "NOT_AUTHENTICATED"
    )


async def test_an_invalid_workflow_is_not_published(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    broken = {"nodes": [{"id": "start", "type": "start"}], "edges": []}
    workflow = await make_workflow(client, user_headers, broken)
    response = await client.post(API, json={"source_id": workflow["id"]}, headers=user_headers)
    body = assert_error(response, 400, "INVALID_WORKFLOW")
    assert body["details"]


async def test_install_makes_a_workflow_of_the_installer_once(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    workflow = await make_workflow(client, user_headers)
    listing = await publish(client, user_headers, workflow["id"], api=API)
    url = f"{API}/{listing['id']}/install"
    response = await client.post(url, headers=other_headers)
    assert response.status_code == 201, response.text
    made = response.json()["workflow"]
    me = (await client.get("/api/v1/auth/me", headers=other_headers)).json()
    assert made["owner_id"] == me["id"] and made["id"] != workflow["id"]
    assert (made["name"], made["status"], made["version"]) == ("Fetcher", "draft", 1)
    assert made["definition"] == listing["content"]["definition"]
    assert (await client.get(f"{WORKFLOWS}/{made['id']}", headers=other_headers)).status_code == 200
    body = assert_error(await client.post(url, headers=other_headers), 409, "ALREADY_INSTALLED")
    assert body["details"]["target_id"] == made["id"]
    installed = (await client.get(f"{API}/installed", headers=other_headers)).json()
    assert [i["target_id"] for i in installed["items"]] == [made["id"]]
    assert (await client.get("/api/v1/agent-market/installed", headers=other_headers)).json()[
        "total"
    ] == 0
    # Deleting the workflow ends the install, so it can be installed again.
    assert (
        await client.delete(f"{WORKFLOWS}/{made['id']}", headers=other_headers)
    ).status_code == 204
    again = await client.post(url, json={"name": "Mine"}, headers=other_headers)
    assert again.status_code == 201 and again.json()["workflow"]["name"] == "Mine"
    detail = (await client.get(f"{API}/{listing['id']}", headers=other_headers)).json()
    assert detail["install_count"] == 2
    assert_error(
        await client.post(url, json={"name": "x" * 101}, headers=user_headers),
        422,
        "VALIDATION_ERROR",
    )
    assert_error(
        await client.post(f"{API}/missing/install", headers=other_headers), 404, "LISTING_NOT_FOUND"
    )
    assert_error(await client.post(url), 401, "NOT_AUTHENTICATED")


async def test_new_version_follows_the_workflow_and_installs_take_the_latest(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    workflow = await make_workflow(client, user_headers)
    lid = (await publish(client, user_headers, workflow["id"], api=API))["id"]
    first = (await client.post(f"{API}/{lid}/install", headers=other_headers)).json()
    changed = {"definition": graph("https://example.org/v2")}
    await client.put(f"{WORKFLOWS}/{workflow['id']}", json=changed, headers=user_headers)
    response = await client.post(
        f"{API}/{lid}/versions", json={"changelog": "v2"}, headers=user_headers
    )
    assert response.status_code == 201, response.text
    assert (response.json()["version"], response.json()["source_version"]) == (2, 2)
    assert_error(
        await client.post(f"{API}/{lid}/versions", headers=user_headers), 409, "VERSION_UNCHANGED"
    )
    assert_error(
        await client.post(f"{API}/{lid}/versions", headers=other_headers), 403, "NOT_LISTING_AUTHOR"
    )
    item = (await client.get(f"{API}/installed", headers=other_headers)).json()["items"][0]
    assert (item["listing_version"], item["latest_version"], item["upgrade_available"]) == (
        1,
        2,
        True,
    )
    carol = await register(client, "carol@example.com", "carol")
    latest = (await client.post(f"{API}/{lid}/install", headers=carol)).json()
    assert latest["install"]["listing_version"] == 2
    assert latest["workflow"]["definition"]["nodes"][1]["config"]["url"] == "https://example.org/v2"
    assert first["workflow"]["definition"]["nodes"][1]["config"]["url"] == "https://example.com/api"
    history = (await client.get(f"{API}/{lid}/versions", headers=carol)).json()
    assert [v["version"] for v in history] == [2, 1]


async def test_ratings_favourites_and_visibility_work_for_templates(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    workflow = await make_workflow(client, user_headers)
    listing = await publish(
        client, user_headers, workflow["id"], api=API, status="draft", tags=["网页"]
    )
    lid = listing["id"]
    assert_error(await client.get(f"{API}/{lid}", headers=other_headers), 404, "LISTING_NOT_FOUND")
    await client.put(f"{API}/{lid}", json={"status": "published"}, headers=user_headers)
    rated = await client.put(
        f"{API}/{lid}/rating", json={"score": 4, "review": "ok"}, headers=other_headers
    )
    assert rated.status_code == 200 and rated.json()["rating_average"] == 4.0
    assert (await client.put(f"{API}/{lid}/favorite", headers=other_headers)).status_code == 204
    listed = (
        await client.get(API, params={"tag": "网页", "favorited": "true"}, headers=other_headers)
    ).json()
    assert [i["id"] for i in listed["items"]] == [lid]
    assert listed["items"][0]["rating_count"] == 1
    reviews = (await client.get(f"{API}/{lid}/ratings", headers=user_headers)).json()
    assert [r["review"] for r in reviews["items"]] == ["ok"]
    categories = (await client.get(f"{API}/categories", headers=other_headers)).json()
    assert categories == [{"category": "research", "count": 1}]
    # Agent-market categories do not count templates.
    assert (await client.get("/api/v1/agent-market/categories", headers=other_headers)).json() == []
    assert (await client.delete(f"{API}/{lid}/favorite", headers=other_headers)).status_code == 204
    assert_error(
        await client.delete(f"{API}/{lid}", headers=other_headers), 403, "NOT_LISTING_AUTHOR"
    )
    assert (await client.delete(f"{API}/{lid}", headers=user_headers)).status_code == 204
    assert_error(
        await client.get(f"{API}/{lid}/ratings", headers=other_headers), 404, "LISTING_NOT_FOUND"
    )
