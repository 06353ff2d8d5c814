"""Roles, the permission catalogue, role assignments, and sharing resources by grant; grants
made effective on agents (view reads, edit also changes, neither deletes or deploys)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.api.asserts import assert_error
from tests.api.test_route_sweep import noop_graph
from tests.api.test_workflows import create as create_workflow
from tests.conftest import register
from tiangong.db.engine import session_factory
from tiangong.permissions.models import ResourceGrant

API = "/api/v1/permissions"
AGENTS = "/api/v1/agents"
Headers = dict[str, str]


async def _me(client: httpx.AsyncClient, headers: Headers) -> dict[str, Any]:
    return dict((await client.get("/api/v1/auth/me", headers=headers)).json())


async def _agent(client: httpx.AsyncClient, headers: Headers, name: str = "helper") -> str:
    body = {"name": name, "system_prompt": "Help."}
    response = await client.post(AGENTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _share(
    client: httpx.AsyncClient, headers: Headers, agent_id: str, permission: str, **who: str
) -> httpx.Response:
    body = {"resource_type": "agent", "resource_id": agent_id, "permission": permission, **who}
    return await client.post(f"{API}/grants", json=body, headers=headers)


# --- catalogue and roles ------------------------------------------------------------------


async def test_catalog_lists_codes_with_descriptions(
    client: httpx.AsyncClient, user_headers: Headers
) -> None:
    response = await client.get(f"{API}/catalog", headers=user_headers)
    assert response.status_code == 200
    codes = {item["code"]: item for item in response.json()}
    assert {"agent:read", "agent:write", "workflow:execute", "permission:manage"} <= codes.keys()
    assert codes["agent:write"]["resource"] == "agent"
    assert codes["agent:write"]["action"] == "write"
    assert codes["agent:write"]["description"]


async def test_builtin_roles_are_listed_readable_and_immutable(
    client: httpx.AsyncClient, admin_headers: Headers, user_headers: Headers
) -> None:
    listed = (await client.get(f"{API}/roles", headers=user_headers)).json()
    assert [r["id"] for r in listed["items"]] == ["admin", "editor", "viewer"]
    assert all(r["builtin"] for r in listed["items"])
    viewer = (await client.get(f"{API}/roles/viewer", headers=user_headers)).json()
    assert "agent:read" in viewer["permissions"]
    assert "agent:write" not in viewer["permissions"]
    put = await client.put(f"{API}/roles/viewer", json={"description": "x"}, headers=admin_headers)
    assert_error(put, 403, "ROLE_BUILTIN")
    assert_error(
        await client.delete(f"{API}/roles/editor", headers=admin_headers), 403, "ROLE_BUILTIN"
    )


async def test_admin_creates_updates_and_deletes_a_custom_role(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    body = {
        "name": "reviewer",
        "description": "Reads agents",
        "permissions": ["agent:read", "agent:read", "workflow:read"],
    }
    response = await client.post(f"{API}/roles", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    role = response.json()
    assert role["permissions"] == ["agent:read", "workflow:read"]  # duplicates dropped
    assert role["builtin"] is False and role["created_at"]
    changed = await client.put(
        f"{API}/roles/{role['id']}",
        json={"permissions": ["agent:execute"], "name": "runner"},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["permissions"] == ["agent:execute"]
    assert changed.json()["description"] == "Reads agents"  # left out, kept
    got = await client.get(f"{API}/roles/{role['id']}", headers=admin_headers)
    assert got.json()["name"] == "runner"
    listed = (await client.get(f"{API}/roles", headers=admin_headers)).json()
    assert [r["name"] for r in listed["items"]][-1] == "runner"
    assert (
        await client.delete(f"{API}/roles/{role['id']}", headers=admin_headers)
    ).status_code == 204
    assert_error(
        await client.get(f"{API}/roles/{role['id']}", headers=admin_headers), 404, "ROLE_NOT_FOUND"
    )
    assert_error(
        await client.delete(f"{API}/roles/{role['id']}", headers=admin_headers),
        404,
        "ROLE_NOT_FOUND",
    )


async def test_role_names_are_unique_and_cannot_shadow_builtins(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    first = await client.post(f"{API}/roles", json={"name": "ops"}, headers=admin_headers)
    assert first.status_code == 201
    again = await client.post(f"{API}/roles", json={"name": "ops"}, headers=admin_headers)
    assert_error(again, 409, "ROLE_NAME_TAKEN")
    builtin = await client.post(f"{API}/roles", json={"name": "viewer"}, headers=admin_headers)
    assert_error(builtin, 409, "ROLE_NAME_TAKEN")
    other = await client.post(f"{API}/roles", json={"name": "dev"}, headers=admin_headers)
    rename = await client.put(
        f"{API}/roles/{other.json()['id']}", json={"name": "ops"}, headers=admin_headers
    )
    assert_error(rename, 409, "ROLE_NAME_TAKEN")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "Has Space"},
        {"name": "x" * 51},
        {"name": "ok", "permissions": ["agent:fly"]},
        {"name": "ok", "permissions": "agent:read"},
        {"name": "ok", "description": "d" * 501},
        {"name": "ok", "extra": 1},
    ],
)
async def test_bad_role_input_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, body: dict[str, Any]
) -> None:
    response = await client.post(f"{API}/roles", json=body, headers=admin_headers)
    assert_error(response, 422, "VALIDATION_ERROR")


async def test_role_writes_need_an_admin_and_every_route_a_token(
    client: httpx.AsyncClient, admin_headers: Headers, user_headers: Headers
) -> None:
    role = (await client.post(f"{API}/roles", json={"name": "r"}, headers=admin_headers)).json()
    me = await _me(client, user_headers)
    for method, url, body in [
        ("POST", f"{API}/roles", {"name": "mine"}),
        ("PUT", f"{API}/roles/{role['id']}", {"description": "x"}),
        ("DELETE", f"{API}/roles/{role['id']}", None),
        ("POST", f"{API}/users/{me['id']}/roles", {"role_id": role["id"]}),
        ("DELETE", f"{API}/users/{me['id']}/roles/{role['id']}", None),
    ]:
        response = await client.request(method, url, json=body, headers=user_headers)
        assert_error(response, 403, "ADMIN_REQUIRED")
        no_token = await client.request(method, url, json=body)
        assert no_token.status_code == 401, (method, url)
    for url in ("/catalog", "/roles", "/roles/viewer", "/users/me/roles", "/shared-with-me"):
        assert (await client.get(API + url)).status_code == 401, url


# --- role assignment and effective permissions --------------------------------------------


async def test_users_without_roles_get_the_default_and_admins_the_admin_role(
    client: httpx.AsyncClient, admin_headers: Headers, user_headers: Headers
) -> None:
    mine = (await client.get(f"{API}/users/me/roles", headers=user_headers)).json()
    assert mine["default_role"] is True
    assert [r["id"] for r in mine["roles"]] == ["editor"]
    assert "agent:write" in mine["permissions"] and "permission:manage" not in mine["permissions"]
    admin = (await client.get(f"{API}/users/me/roles", headers=admin_headers)).json()
    assert [r["id"] for r in admin["roles"]] == ["admin"]
    assert "permission:manage" in admin["permissions"]


async def test_assigned_roles_make_up_the_effective_permissions(
    client: httpx.AsyncClient, admin_headers: Headers, user_headers: Headers
) -> None:
    alice = (await _me(client, user_headers))["id"]
    custom = await client.post(
        f"{API}/roles",
        json={"name": "runner", "permissions": ["workflow:execute", "agent:write"]},
        headers=admin_headers,
    )
    role_id = custom.json()["id"]
    url = f"{API}/users/{alice}/roles"
    viewer = await client.post(url, json={"role_id": "viewer"}, headers=admin_headers)
    assert viewer.status_code == 201, viewer.text
    both = await client.post(url, json={"role_id": role_id}, headers=admin_headers)
    assert [r["id"] for r in both.json()["roles"]] == ["viewer", role_id]
    mine = (await client.get(f"{API}/users/me/roles", headers=user_headers)).json()
    assert mine["default_role"] is False
    assert "agent:write" in mine["permissions"] and "agent:read" in mine["permissions"]
    assert "agent:delete" not in mine["permissions"]
    # An admin reads anyone's roles; the same answer.
    assert (await client.get(url, headers=admin_headers)).json() == mine
    assert_error(
        await client.post(url, json={"role_id": "viewer"}, headers=admin_headers),
        409,
        "ROLE_ALREADY_ASSIGNED",
    )
    # Deleting a role takes it away from its users.
    await client.delete(f"{API}/roles/{role_id}", headers=admin_headers)
    after = (await client.get(url, headers=admin_headers)).json()
    assert [r["id"] for r in after["roles"]] == ["viewer"]
    removed = await client.delete(f"{url}/viewer", headers=admin_headers)
    assert removed.status_code == 204
    assert_error(
        await client.delete(f"{url}/viewer", headers=admin_headers),
        404,
        "ROLE_ASSIGNMENT_NOT_FOUND",
    )
    assert (await client.get(url, headers=admin_headers)).json()["default_role"] is True


async def test_assignment_errors(
    client: httpx.AsyncClient, admin_headers: Headers, user_headers: Headers
) -> None:
    alice = (await _me(client, user_headers))["id"]
    url = f"{API}/users/{alice}/roles"
    assert_error(
        await client.post(url, json={"role_id": "admin"}, headers=admin_headers),
        400,
        "ROLE_NOT_ASSIGNABLE",
    )
    assert_error(
        await client.post(url, json={"role_id": "nope"}, headers=admin_headers),
        404,
        "ROLE_NOT_FOUND",
    )
    assert_error(
        await client.post(
            f"{API}/users/no-such-user/roles", json={"role_id": "viewer"}, headers=admin_headers
        ),
        404,
        "USER_NOT_FOUND",
    )
    assert_error(await client.post(url, json={}, headers=admin_headers), 422, "VALIDATION_ERROR")
    assert_error(
        await client.post(url, json={"role_id": "x" * 65}, headers=admin_headers),
        422,
        "VALIDATION_ERROR",
    )


async def test_users_cannot_read_each_others_roles(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    alice = (await _me(client, user_headers))["id"]
    own = await client.get(f"{API}/users/{alice}/roles", headers=user_headers)
    assert own.status_code == 200 and own.json()["user_id"] == alice
    assert_error(
        await client.get(f"{API}/users/{alice}/roles", headers=other_headers),
        404,
        "USER_NOT_FOUND",
    )


# --- grants -------------------------------------------------------------------------------


async def test_owner_shares_by_email_or_id_and_sees_who_has_access(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    bob = await _me(client, other_headers)
    carol_headers = await register(client, "carol@example.com", "carol")
    carol = await _me(client, carol_headers)
    by_email = await _share(client, user_headers, agent_id, "view", email="BOB@example.com")
    assert by_email.status_code == 201, by_email.text
    grant = by_email.json()
    assert grant["user_id"] == bob["id"] and grant["user_nickname"] == "bob"
    assert grant["permission"] == "view" and grant["enforced"] is True
    by_id = await _share(client, user_headers, agent_id, "edit", user_id=carol["id"])
    assert by_id.status_code == 201
    # Granting again changes the permission of the same grant.
    upgraded = await _share(client, user_headers, agent_id, "edit", user_id=bob["id"])
    assert upgraded.status_code == 200
    assert upgraded.json()["id"] == grant["id"] and upgraded.json()["permission"] == "edit"
    listed = await client.get(
        f"{API}/grants",
        params={"resource_type": "agent", "resource_id": agent_id, "page_size": 1},
        headers=user_headers,
    )
    assert listed.status_code == 200
    assert listed.json()["total"] == 2
    assert [g["user_nickname"] for g in listed.json()["items"]] == ["bob"]


async def test_grant_errors(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    alice = await _me(client, user_headers)
    assert_error(
        await _share(client, user_headers, agent_id, "view", user_id=alice["id"]),
        400,
        "GRANT_TO_OWNER",
    )
    assert_error(
        await _share(client, user_headers, agent_id, "view", email="nobody@example.com"),
        404,
        "USER_NOT_FOUND",
    )
    assert_error(
        await _share(client, user_headers, "missing", "view", email="bob@example.com"),
        404,
        "AGENT_NOT_FOUND",
    )
    # Another user's agent cannot be shared, nor its grants listed: not found.
    bobs = await _agent(client, other_headers, "bobs")
    assert_error(
        await _share(client, user_headers, bobs, "view", email="alice@example.com"),
        404,
        "AGENT_NOT_FOUND",
    )
    params = {"resource_type": "agent", "resource_id": bobs}
    assert_error(
        await client.get(f"{API}/grants", params=params, headers=user_headers),
        404,
        "AGENT_NOT_FOUND",
    )
    for body in (
        {"resource_type": "agent", "resource_id": agent_id, "permission": "view"},
        {
            "resource_type": "agent",
            "resource_id": agent_id,
            "user_id": "a",
            "email": "bob@example.com",
        },
        {"resource_type": "tool", "resource_id": agent_id, "email": "bob@example.com"},
        {"resource_type": "agent", "resource_id": agent_id, "email": "not-an-email"},
        {
            "resource_type": "agent",
            "resource_id": agent_id,
            "email": "bob@example.com",
            "permission": "own",
        },
    ):
        response = await client.post(f"{API}/grants", json=body, headers=user_headers)
        assert_error(response, 422, "VALIDATION_ERROR")
    bad_list = await client.get(
        f"{API}/grants", params={"resource_type": "x"}, headers=user_headers
    )
    assert_error(bad_list, 422, "VALIDATION_ERROR")
    body = {"resource_type": "agent", "resource_id": agent_id, "email": "bob@example.com"}
    assert (await client.post(f"{API}/grants", json=body)).status_code == 401


async def test_a_grantee_cannot_reshare_or_list_grants(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    await _share(client, user_headers, agent_id, "edit", email="bob@example.com")
    await register(client, "carol@example.com", "carol")
    assert_error(
        await _share(client, other_headers, agent_id, "view", email="carol@example.com"),
        403,
        "NOT_RESOURCE_OWNER",
    )
    params = {"resource_type": "agent", "resource_id": agent_id}
    listed = await client.get(f"{API}/grants", params=params, headers=other_headers)
    assert_error(listed, 403, "NOT_RESOURCE_OWNER")


async def test_admins_manage_any_users_grants(
    client: httpx.AsyncClient, admin_headers: Headers, user_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    await register(client, "bob@example.com", "bob")
    made = await _share(client, admin_headers, agent_id, "view", email="bob@example.com")
    assert made.status_code == 201
    assert made.json()["granted_by"] == (await _me(client, admin_headers))["id"]
    gone = await client.delete(f"{API}/grants/{made.json()['id']}", headers=admin_headers)
    assert gone.status_code == 204


async def test_revoking_a_grant(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    grant = (await _share(client, user_headers, agent_id, "view", email="bob@example.com")).json()
    carol_headers = await register(client, "carol@example.com", "carol")
    # Someone with nothing to do with it cannot even find it.
    assert_error(
        await client.delete(f"{API}/grants/{grant['id']}", headers=carol_headers),
        404,
        "GRANT_NOT_FOUND",
    )
    assert (
        await client.delete(f"{API}/grants/{grant['id']}", headers=user_headers)
    ).status_code == 204
    assert_error(
        await client.delete(f"{API}/grants/{grant['id']}", headers=user_headers),
        404,
        "GRANT_NOT_FOUND",
    )
    assert (await client.get(f"{AGENTS}/{agent_id}", headers=other_headers)).status_code == 404
    # The grantee may give a share up themselves.
    again = (await _share(client, user_headers, agent_id, "view", email="bob@example.com")).json()
    assert (
        await client.delete(f"{API}/grants/{again['id']}", headers=other_headers)
    ).status_code == 204
    assert (await client.delete(f"{API}/grants/{again['id']}")).status_code == 401


async def test_shared_with_me_lists_resources_of_every_type(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers, "shared agent")
    kb = await client.post("/api/v1/knowledge-bases", json={"name": "docs"}, headers=user_headers)
    kb_id = kb.json()["id"]
    await _share(client, user_headers, agent_id, "edit", email="bob@example.com")
    body = {"resource_type": "knowledge_base", "resource_id": kb_id, "email": "bob@example.com"}
    made = await client.post(f"{API}/grants", json=body, headers=user_headers)
    assert made.status_code == 201 and made.json()["enforced"] is False
    shared = (await client.get(f"{API}/shared-with-me", headers=other_headers)).json()
    assert shared["total"] == 2
    by_type = {item["resource_type"]: item for item in shared["items"]}
    assert by_type["agent"]["name"] == "shared agent"
    assert by_type["agent"]["permission"] == "edit"
    assert by_type["agent"]["owner_nickname"] == "alice"
    assert by_type["knowledge_base"]["name"] == "docs"
    only = await client.get(
        f"{API}/shared-with-me", params={"resource_type": "agent"}, headers=other_headers
    )
    assert [i["resource_id"] for i in only.json()["items"]] == [agent_id]
    # Alice shares nothing with herself; a deleted knowledge base drops out of the list.
    assert (await client.get(f"{API}/shared-with-me", headers=user_headers)).json()["total"] == 0
    await client.delete(f"/api/v1/knowledge-bases/{kb_id}", headers=user_headers)
    after = (await client.get(f"{API}/shared-with-me", headers=other_headers)).json()
    assert [i["resource_type"] for i in after["items"]] == ["agent"]
    bad = await client.get(f"{API}/shared-with-me", params={"page_size": 0}, headers=other_headers)
    assert_error(bad, 422, "VALIDATION_ERROR")


# --- grants on agents ---------------------------------------------------------------------


async def test_view_grant_reads_the_agent_but_changes_nothing(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    url = f"{AGENTS}/{agent_id}"
    assert (await client.get(url, headers=other_headers)).status_code == 404
    assert (await client.get(AGENTS, headers=other_headers)).json()["total"] == 0
    await _share(client, user_headers, agent_id, "view", email="bob@example.com")
    got = await client.get(url, headers=other_headers)
    assert got.status_code == 200 and got.json()["shared"] == "view"
    assert (await client.get(url, headers=user_headers)).json()["shared"] is None
    listed = (await client.get(AGENTS, headers=other_headers)).json()
    assert [(a["id"], a["shared"]) for a in listed["items"]] == [(agent_id, "view")]
    assert (await client.get(f"{url}/versions", headers=other_headers)).status_code == 200
    assert (await client.get(f"{url}/versions/1", headers=other_headers)).status_code == 200
    put = await client.put(url, json={"name": "mine now"}, headers=other_headers)
    assert put.status_code == 404
    for action in ("deploy", "stop", "create-main-agent"):
        response = await client.post(f"{url}/{action}", headers=other_headers)
        assert response.status_code == 404, action
    assert (await client.delete(url, headers=other_headers)).status_code == 404
    assert (await client.get(url, headers=user_headers)).json()["name"] == "helper"


async def test_edit_grant_also_changes_the_agent_but_cannot_delete_or_deploy(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    url = f"{AGENTS}/{agent_id}"
    await _share(client, user_headers, agent_id, "edit", email="bob@example.com")
    put = await client.put(url, json={"name": "improved"}, headers=other_headers)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 2 and put.json()["shared"] == "edit"
    assert (await client.get(url, headers=user_headers)).json()["name"] == "improved"
    assert (await client.post(f"{url}/deploy", headers=other_headers)).status_code == 404
    assert (await client.delete(url, headers=other_headers)).status_code == 404
    assert (await client.get(url, headers=user_headers)).status_code == 200


async def test_deleting_an_agent_removes_its_grants(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    agent_id = await _agent(client, user_headers)
    grant = (await _share(client, user_headers, agent_id, "view", email="bob@example.com")).json()
    assert (await client.delete(f"{AGENTS}/{agent_id}", headers=user_headers)).status_code == 204
    assert (await client.get(f"{API}/shared-with-me", headers=other_headers)).json()["total"] == 0
    assert_error(
        await client.delete(f"{API}/grants/{grant['id']}", headers=other_headers),
        404,
        "GRANT_NOT_FOUND",
    )


# --- check --------------------------------------------------------------------------------


async def _check(
    client: httpx.AsyncClient, headers: Headers, resource_id: str, action: str, **extra: str
) -> httpx.Response:
    body = {"resource_type": "agent", "resource_id": resource_id, "action": action, **extra}
    return await client.post(f"{API}/check", json=body, headers=headers)


async def test_check_answers_for_owner_grantee_and_strangers(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    user_headers: Headers,
    other_headers: Headers,
) -> None:
    agent_id = await _agent(client, user_headers)
    bob = await _me(client, other_headers)
    carol_headers = await register(client, "carol@example.com", "carol")
    carol = await _me(client, carol_headers)
    await _share(client, user_headers, agent_id, "view", email="bob@example.com")

    own = (await _check(client, user_headers, agent_id, "delete")).json()
    assert own["allowed"] is True and own["access"] == "owner" and own["enforced"] is True
    view = (await _check(client, other_headers, agent_id, "view")).json()
    assert view["allowed"] is True and view["access"] == "view"
    edit = (await _check(client, other_headers, agent_id, "edit")).json()
    assert edit["allowed"] is False and "view grant" in edit["reason"]
    # The owner asks about others; carol has no access.
    about_carol = await _check(client, user_headers, agent_id, "view", user_id=carol["id"])
    assert about_carol.json()["allowed"] is False and about_carol.json()["access"] is None
    about_bob = await _check(client, user_headers, agent_id, "view", user_id=bob["id"])
    assert about_bob.json()["allowed"] is True
    admin = (await _check(client, admin_headers, agent_id, "share")).json()
    assert admin["allowed"] is True and admin["access"] == "admin"
    # Carol cannot see it at all; Bob may not ask about others.
    assert_error(await _check(client, carol_headers, agent_id, "view"), 404, "AGENT_NOT_FOUND")
    assert_error(
        await _check(client, other_headers, agent_id, "view", user_id=carol["id"]),
        403,
        "NOT_RESOURCE_OWNER",
    )
    assert_error(
        await _check(client, user_headers, agent_id, "view", user_id="nobody"),
        404,
        "USER_NOT_FOUND",
    )
    assert_error(await _check(client, user_headers, agent_id, "fly"), 422, "VALIDATION_ERROR")
    assert (await client.post(f"{API}/check", json={})).status_code == 401


async def test_check_on_a_workflow_says_grants_are_not_enforced_there(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    wf = await create_workflow(client, user_headers, noop_graph())
    body = {"resource_type": "workflow", "resource_id": wf["id"], "email": "bob@example.com"}
    assert (await client.post(f"{API}/grants", json=body, headers=user_headers)).status_code == 201
    check = {"resource_type": "workflow", "resource_id": wf["id"], "action": "view"}
    result = (await client.post(f"{API}/check", json=check, headers=other_headers)).json()
    assert result["allowed"] is True and result["enforced"] is False


async def test_deleting_a_workflow_or_knowledge_base_deletes_its_grants(
    client: httpx.AsyncClient, user_headers: Headers, other_headers: Headers
) -> None:
    wf = await create_workflow(client, user_headers, noop_graph())
    kb = await client.post("/api/v1/knowledge-bases", json={"name": "kb"}, headers=user_headers)
    shared = [("workflow", wf["id"]), ("knowledge_base", kb.json()["id"])]
    for resource_type, resource_id in shared:
        body = {"resource_type": resource_type, "resource_id": resource_id}
        granted = await client.post(
            "/api/v1/permissions/grants",
            json={**body, "email": "bob@example.com"},
            headers=user_headers,
        )
        assert granted.status_code == 201, granted.text
    await client.delete(f"/api/v1/workflows/{wf['id']}", headers=user_headers)
    await client.delete(f"/api/v1/knowledge-bases/{kb.json()['id']}", headers=user_headers)
    async with session_factory()() as session:
        left = await session.execute(
            select(ResourceGrant).where(ResourceGrant.resource_id.in_([i for _, i in shared]))
        )
        assert left.scalars().all() == []
