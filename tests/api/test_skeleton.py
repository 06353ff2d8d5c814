from __future__ import annotations

import httpx

from tests import backends


async def test_health_reports_version_tools_database_and_cache(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == "1.0.0"
    assert set(body["builtin_tools"]) == {"count", "ready"}
    assert body["database"] == {
        "status": "ok",
        "backend": backends.BACKEND.replace("postgres", "postgresql"),
    }
    assert body["cache"] == {"status": "ok", "backend": "redis" if backends.USE_REDIS else "memory"}


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert len(response.headers["x-request-id"]) == 32


async def test_a_sane_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "trace-abc.123"})
    assert response.headers["x-request-id"] == "trace-abc.123"


async def test_a_hostile_incoming_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "a b\tc" + "x" * 100})
    assert response.headers["x-request-id"] != "a b\tc" + "x" * 100
    assert len(response.headers["x-request-id"]) == 32


async def test_unknown_route_uses_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"


async def test_wrong_method_uses_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/auth/me")
    assert response.status_code == 405
    assert response.json()["error"] == "METHOD_NOT_ALLOWED"


async def test_docs_and_openapi_list_auth_and_model_configs(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    # Served from the package, not a CDN: the docs work on a machine without internet.
    assert "cdn." not in docs.text and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert (await client.get("/docs-assets/swagger-ui-bundle.js")).status_code == 200
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/me",
        "/api/v1/model-configs",
        "/api/v1/model-configs/{config_id}",
        "/api/v1/model-configs/{config_id}/test",
    ):
        assert path in paths


async def test_nul_characters_are_bad_input_not_a_crash(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    # PostgreSQL refuses NUL in text; other databases store or match it. Never a 500.
    pg = backends.BACKEND == "postgres"
    response = await client.get("/api/v1/agents/%00", headers=user_headers)
    assert response.status_code == (400 if pg else 404), response.text
    assert response.json()["error"] == ("BAD_REQUEST" if pg else "AGENT_NOT_FOUND")
    response = await client.post("/api/v1/agents", json={"name": "a\x00b"}, headers=user_headers)
    assert response.status_code == (400 if pg else 201), response.text
    response = await client.post(
        "/api/v1/auth/login", data={"username": "a\x00@example.com", "password": "x\x00"}
    )
    assert response.status_code == (400 if pg else 401), response.text
    assert "message" in response.json()
    response = await client.get(
        "/api/v1/agent/conversation-history",
        params={"conversation_id": "\x00"},
        headers=user_headers,
    )
    assert response.status_code == 400, response.text
    assert response.json()["status"].startswith("400")
