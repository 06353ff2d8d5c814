"""Webhooks: management (owner only, secret shown once), signed triggers by id and by name,
and every way a signature can fail."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tiangong.webhooks import service as webhook_service
from tiangong.webhooks.service import sign

API = "/api/v1/workflows"
HOOKS = "/api/v1/webhooks"


def echo_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "name"}]}},
            {
                "id": "greet",
                "type": "variable_assign",
                "config": {"assignments": {"text": "hello {{start.name}}"}},
            },
            {"id": "end", "type": "end", "config": {"outputs": {"text": "{{greet.text}}"}}},
        ],
        "edges": [{"source": "start", "target": "greet"}, {"source": "greet", "target": "end"}],
    }


async def make_workflow(
    client: httpx.AsyncClient, headers: dict[str, str], name: str = "greeter"
) -> str:
    response = await client.post(
        API, json={"name": name, "definition": echo_graph()}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def make_hook(
    client: httpx.AsyncClient, headers: dict[str, str], workflow_id: str
) -> dict[str, Any]:
    response = await client.post(f"{API}/{workflow_id}/webhook", headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def signed(
    secret: str, body: bytes, *, timestamp: int | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "X-Tiangong-Timestamp": ts,
        "X-Tiangong-Signature": sign(secret, ts, body),
        "Content-Type": "application/json",
    }
    return {**headers, **(extra or {})}


async def fire(
    client: httpx.AsyncClient, url: str, secret: str, payload: Any, **kwargs: Any
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await client.post(url, content=body, headers=signed(secret, body, **kwargs))


async def test_signed_trigger_by_id_runs_the_workflow_with_the_body_as_inputs(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    hook = await make_hook(client, user_headers, wf)
    assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
    assert hook["url_by_id"].endswith(f"{HOOKS}/{wf}")
    assert hook["url_by_name"].endswith(f"{HOOKS}/by-name/greeter")
    response = await fire(client, f"{HOOKS}/{wf}", hook["secret"], {"name": "ada"})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "succeeded" and run["outputs"] == {"text": "hello ada"}
    listed = await client.get(f"/api/v1/executions/{run['id']}", headers=user_headers)
    assert listed.status_code == 200
    # {"inputs": {...}} is accepted as well, and async answers 202 at once.
    response = await fire(
        client, f"{HOOKS}/{wf}?mode=async", hook["secret"], {"inputs": {"name": "bo"}}
    )
    assert response.status_code == 202, response.text
    assert response.json()["inputs"] == {"name": "bo"}
    got = (await client.get(f"{API}/{wf}/webhook", headers=user_headers)).json()
    assert got["last_triggered_at"] is not None


async def test_runs_started_by_a_webhook_are_marked_as_such(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    from tiangong.db.engine import session_factory
    from tiangong.workflows.models import WorkflowRun

    wf = await make_workflow(client, user_headers)
    hook = await make_hook(client, user_headers, wf)
    run = (await fire(client, f"{HOOKS}/{wf}", hook["secret"], {"name": "x"})).json()
    async with session_factory()() as session:
        row = await session.get(WorkflowRun, run["id"])
        assert row is not None and row.trigger == "webhook"


async def test_trigger_by_name_picks_the_webhook_whose_secret_verifies(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    mine = await make_workflow(client, user_headers, name="shared name")
    theirs = await make_workflow(client, other_headers, name="shared name")
    my_hook = await make_hook(client, user_headers, mine)
    their_hook = await make_hook(client, other_headers, theirs)
    url = f"{HOOKS}/by-name/shared%20name"
    response = await fire(client, url, my_hook["secret"], {"name": "me"})
    assert response.status_code == 200, response.text
    assert response.json()["workflow_id"] == mine
    response = await fire(client, url, their_hook["secret"], {"name": "them"})
    assert response.status_code == 200 and response.json()["workflow_id"] == theirs
    response = await fire(client, url, "whsec_nobody", {"name": "x"})
    assert response.status_code == 401 and response.json()["error"] == "WEBHOOK_SIGNATURE_INVALID"
    response = await fire(client, f"{HOOKS}/by-name/no%20such", my_hook["secret"], {})
    assert response.status_code == 404 and response.json()["error"] == "WEBHOOK_NOT_FOUND"


async def test_signature_failures_are_401(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    hook = await make_hook(client, user_headers, wf)
    url = f"{HOOKS}/{wf}"
    body = json.dumps({"name": "ada"}).encode()
    cases: dict[str, tuple[bytes, dict[str, str]]] = {
        "wrong secret": (body, signed("whsec_wrong", body)),
        "tampered body": (b'{"name": "eve"}', signed(hook["secret"], body)),
        "expired": (body, signed(hook["secret"], body, timestamp=int(time.time()) - 301)),
        # Well past the window: the cases before it take time, and the window is checked later.
        "future": (body, signed(hook["secret"], body, timestamp=int(time.time()) + 400)),
        "no headers": (body, {"Content-Type": "application/json"}),
        "no signature": (body, {"X-Tiangong-Timestamp": str(int(time.time()))}),
        "bad timestamp": (body, {**signed(hook["secret"], body), "X-Tiangong-Timestamp": "soon"}),
        "no prefix": (
            body,
            {
                **signed(hook["secret"], body),
                "X-Tiangong-Signature": sign(hook["secret"], str(int(time.time())), body)[7:],
            },
        ),
    }
    for case, (content, headers) in cases.items():
        response = await client.post(url, content=content, headers=headers)
        assert response.status_code == 401, (case, response.text)
        assert response.json()["error"] == "WEBHOOK_SIGNATURE_INVALID", case
    runs = await client.get("/api/v1/executions", headers=user_headers)
    assert runs.json()["total"] == 0


async def test_bad_body_and_bad_parameters(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    hook = await make_hook(client, user_headers, wf)
    url = f"{HOOKS}/{wf}"
    for raw in (b"{not json", b"[1, 2]", b'"text"'):
        response = await client.post(url, content=raw, headers=signed(hook["secret"], raw))
        assert response.status_code == 400, raw
        assert response.json()["error"] == "INVALID_JSON"
    response = await fire(client, f"{url}?mode=later", hook["secret"], {})
    assert response.status_code == 422 and "error" in response.json()
    response = await fire(client, f"{url}?timeout_s=100000", hook["secret"], {})
    assert response.status_code == 422
    big = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    response = await client.post(url, content=big, headers=signed(hook["secret"], big))
    assert response.status_code == 413


async def test_idempotency_key_returns_the_same_run(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    hook = await make_hook(client, user_headers, wf)
    extra = {"Idempotency-Key": "delivery-1"}
    first = await fire(client, f"{HOOKS}/{wf}", hook["secret"], {"name": "a"}, extra=extra)
    again = await fire(client, f"{HOOKS}/{wf}", hook["secret"], {"name": "a"}, extra=extra)
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    runs = await client.get("/api/v1/executions", headers=user_headers)
    assert runs.json()["total"] == 1


async def test_unknown_workflow_disabled_and_deleted_webhooks_are_404(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    hook = await make_hook(client, user_headers, wf)
    url = f"{HOOKS}/{wf}"
    response = await fire(client, f"{HOOKS}/00000000-0000-0000-0000-000000000000", "x", {})
    assert response.status_code == 404 and response.json()["error"] == "WEBHOOK_NOT_FOUND"
    no_hook = await make_workflow(client, user_headers, name="plain")
    response = await fire(client, f"{HOOKS}/{no_hook}", hook["secret"], {})
    assert response.status_code == 404 and response.json()["error"] == "WEBHOOK_NOT_FOUND"

    response = await client.patch(
        f"{API}/{wf}/webhook", json={"enabled": False}, headers=user_headers
    )
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert (await fire(client, url, hook["secret"], {})).status_code == 404
    by_name = await fire(client, f"{HOOKS}/by-name/greeter", hook["secret"], {})
    assert by_name.status_code == 404
    await client.patch(f"{API}/{wf}/webhook", json={"enabled": True}, headers=user_headers)
    assert (await fire(client, url, hook["secret"], {"name": "x"})).status_code == 200

    response = await client.delete(f"{API}/{wf}/webhook", headers=user_headers)
    assert response.status_code == 204
    assert (await fire(client, url, hook["secret"], {})).status_code == 404
    response = await client.get(f"{API}/{wf}/webhook", headers=user_headers)
    assert response.status_code == 404
    response = await client.delete(f"{API}/{wf}/webhook", headers=user_headers)
    assert response.status_code == 404


async def test_rotating_invalidates_the_old_secret(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    old = await make_hook(client, user_headers, wf)
    new = await make_hook(client, user_headers, wf)
    assert new["secret"] != old["secret"]
    response = await fire(client, f"{HOOKS}/{wf}", old["secret"], {"name": "x"})
    assert response.status_code == 401
    response = await fire(client, f"{HOOKS}/{wf}", new["secret"], {"name": "x"})
    assert response.status_code == 200


async def test_secret_is_never_shown_after_create(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    hook = await make_hook(client, user_headers, wf)
    response = await client.get(f"{API}/{wf}/webhook", headers=user_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["secret_set"] is True and "secret" not in body
    assert hook["secret"] not in response.text
    response = await client.patch(
        f"{API}/{wf}/webhook", json={"enabled": True}, headers=user_headers
    )
    assert hook["secret"] not in response.text
    response = await client.patch(
        f"{API}/{wf}/webhook", json={"enabled": "maybe"}, headers=user_headers
    )
    assert response.status_code == 422 and response.json()["error"] == "VALIDATION_ERROR"


async def test_only_the_owner_manages_a_webhook(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    wf = await make_workflow(client, user_headers)
    await make_hook(client, user_headers, wf)
    for method in ("post", "get", "delete"):
        response = await client.request(method, f"{API}/{wf}/webhook", headers=other_headers)
        assert response.status_code == 404, method
        assert response.json()["error"] == "WORKFLOW_NOT_FOUND"
        response = await client.request(method, f"{API}/{wf}/webhook")
        assert response.status_code == 401, method
    response = await client.patch(
        f"{API}/{wf}/webhook", json={"enabled": False}, headers=other_headers
    )
    assert response.status_code == 404
    assert (await client.get(f"{API}/{wf}/webhook", headers=user_headers)).json()["enabled"]


async def test_last_triggered_at_is_written_at_most_about_once_a_second(
    client: httpx.AsyncClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy webhook does not rewrite its row on every call."""
    wf = await make_workflow(client, user_headers)
    hook = await make_hook(client, user_headers, wf)

    async def last() -> str | None:
        got = (await client.get(f"{API}/{wf}/webhook", headers=user_headers)).json()
        return got["last_triggered_at"]

    assert await last() is None
    assert (await fire(client, f"{HOOKS}/{wf}", hook["secret"], {"name": "a"})).status_code == 200
    first = await last()
    assert first is not None
    assert (await fire(client, f"{HOOKS}/{wf}", hook["secret"], {"name": "b"})).status_code == 200
    assert await last() == first  # within the second: not written again
    monkeypatch.setattr(webhook_service, "TOUCH_EVERY", timedelta(0))
    assert (await fire(client, f"{HOOKS}/{wf}", hook["secret"], {"name": "c"})).status_code == 200
    later = await last()
    assert later is not None and later > first
