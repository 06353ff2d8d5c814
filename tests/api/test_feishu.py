"""Feishu integration: the event callback against a fake Feishu open API on loopback, and
bindings, approvals, lookups, status and the default agent through HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.loopback import LoopbackServer, allow_loopback
from tiangong.config import get_settings
from tiangong.db.base import utcnow
from tiangong.db.engine import session_factory
from tiangong.feishu import crypto, jobs, openapi
from tiangong.feishu.models import FeishuEvent

API = "/api/v1/feishu"
TOKEN = "verify-me"
ALICE_OPEN_ID = "ou_alice0001"


class FakeFeishu:
    """Feishu's token and message endpoints, recording what the platform sent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.token_calls: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.fail_sends = 0  # the next this many message sends get a 503
        self.failed_sends = 0
        routes = [
            Route("/open-apis/auth/v3/tenant_access_token/internal", self._token, methods=["POST"]),
            Route("/open-apis/im/v1/messages", self._message, methods=["POST"]),
        ]
        self.server = LoopbackServer(routes)

    async def _token(self, request: Request) -> JSONResponse:
        with self.lock:
            self.token_calls.append(await request.json())
        return JSONResponse({"code": 0, "tenant_access_token": "t-fake", "expire": 7200})

    async def _message(self, request: Request) -> JSONResponse:
        body = await request.json()
        with self.lock:
            if self.fail_sends > 0:
                self.fail_sends -= 1
                self.failed_sends += 1
                return JSONResponse({"code": 99991400, "msg": "busy"}, status_code=503)
            self.messages.append(
                {
                    "query": dict(request.query_params),
                    "auth": request.headers.get("authorization"),
                    "receive_id": body["receive_id"],
                    "msg_type": body["msg_type"],
                    "text": json.loads(body["content"])["text"],
                }
            )
        return JSONResponse({"code": 0, "data": {"message_id": "om_1"}})

    async def wait_messages(self, n: int, timeout_s: float = 10) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout_s):
            while len(self.messages) < n:  # noqa: ASYNC110 - filled by the server thread
                await asyncio.sleep(0.02)
        await jobs.jobs().idle()
        return list(self.messages)


@pytest.fixture(scope="module")
def feishu_server() -> Iterator[FakeFeishu]:
    fake = FakeFeishu()
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture
async def feishu(
    feishu_server: FakeFeishu, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeFeishu]:
    settings = get_settings()
    monkeypatch.setattr(settings, "feishu_base_url", feishu_server.server.url)
    monkeypatch.setattr(settings, "feishu_app_id", "cli_test")
    monkeypatch.setattr(settings, "feishu_app_secret", "app-secret-value")
    monkeypatch.setattr(settings, "feishu_verification_token", TOKEN)
    allow_loopback(monkeypatch)
    openapi.forget_token()
    with feishu_server.lock:
        feishu_server.token_calls.clear()
        feishu_server.messages.clear()
        feishu_server.fail_sends = feishu_server.failed_sends = 0
    monkeypatch.setattr(jobs, "SEND_BACKOFF_S", 0.01)
    yield feishu_server
    await jobs.jobs().idle()
    openapi.forget_token()


def message_event(event_id: str, text: str, open_id: str = ALICE_OPEN_ID) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "im.message.receive_v1",
            "token": TOKEN,
            "app_id": "cli_test",
        },
        "event": {
            "sender": {"sender_id": {"open_id": open_id}, "sender_type": "user"},
            "message": {
                "message_id": f"om_{event_id}",
                "chat_id": "oc_chat1",
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": f"@_user_1 {text}"}),
                "mentions": [{"key": "@_user_1", "name": "bot"}],
            },
        },
    }


async def _agent(client: httpx.AsyncClient, headers: dict[str, str], name: str = "bot") -> str:
    response = await client.post(
        "/api/v1/agents", json={"name": name, "system_prompt": "Be brief."}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _bind_active(
    client: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str], open_id: str
) -> None:
    assert (
        await client.post(f"{API}/bind", json={"open_id": open_id}, headers=user)
    ).status_code == 201
    decided = await client.post(
        f"{API}/bind-pending", json={"open_id": open_id, "action": "approve"}, headers=admin
    )
    assert decided.status_code == 200 and decided.json()["status"] == "active"


# --- the event callback ---------------------------------------------------------------------


async def test_url_verification_echoes_the_challenge_after_checking_the_token(
    client: httpx.AsyncClient, feishu: FakeFeishu
) -> None:
    body = {"type": "url_verification", "token": TOKEN, "challenge": "ch-123"}
    response = await client.post(f"{API}/event", json=body)
    assert response.status_code == 200 and response.json() == {"challenge": "ch-123"}
    wrong = await client.post(f"{API}/event", json={**body, "token": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "FEISHU_BAD_TOKEN"
    missing = await client.post(f"{API}/event", json={"type": "url_verification", "challenge": "x"})
    assert missing.status_code == 401


async def test_callback_is_refused_until_configured(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "feishu_verification_token", None)
    response = await client.post(f"{API}/event", json={"type": "url_verification"})
    assert response.status_code == 403 and response.json()["error"] == "FEISHU_NOT_CONFIGURED"


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"x"', b"", b'{"a":' * 5000 + b"1" + b"}" * 5000])
async def test_callback_rejects_bodies_that_are_not_objects(
    client: httpx.AsyncClient, feishu: FakeFeishu, raw: bytes
) -> None:
    response = await client.post(
        f"{API}/event", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"] == "FEISHU_BAD_PAYLOAD"


def test_decryption_matches_feishus_documented_example() -> None:
    # From Feishu's documentation of event encryption.
    assert (
        crypto.decrypt("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=", "test key") == "hello world"
    )


async def test_encrypted_events_are_decrypted_and_signatures_checked(
    client: httpx.AsyncClient, feishu: FakeFeishu, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "encrypt-key-1"
    monkeypatch.setattr(get_settings(), "feishu_encrypt_key", key)
    inner = {"type": "url_verification", "token": TOKEN, "challenge": "secret-ch"}
    raw = json.dumps({"encrypt": crypto.encrypt(json.dumps(inner), key, b"0123456789abcdef")})
    sig = crypto.signature("1700000000", "nonce", key, raw.encode())
    headers = {
        "Content-Type": "application/json",
        "X-Lark-Request-Timestamp": "1700000000",
        "X-Lark-Request-Nonce": "nonce",
        "X-Lark-Signature": sig,
    }
    response = await client.post(f"{API}/event", content=raw, headers=headers)
    assert response.status_code == 200 and response.json() == {"challenge": "secret-ch"}
    forged = await client.post(
        f"{API}/event", content=raw, headers={**headers, "X-Lark-Signature": "0" * 64}
    )
    assert forged.status_code == 401 and forged.json()["error"] == "FEISHU_BAD_SIGNATURE"
    wrong_key = crypto.encrypt(json.dumps(inner), "other key", b"0123456789abcdef")
    garbled = await client.post(f"{API}/event", json={"encrypt": wrong_key})
    assert garbled.status_code in (400, 401)
    not_base64 = await client.post(f"{API}/event", json={"encrypt": "!!!"})
    assert not_base64.status_code == 400
    plain = await client.post(f"{API}/event", json=inner)
    assert plain.status_code == 400 and plain.json()["error"] == "FEISHU_BAD_PAYLOAD"


async def test_message_from_a_bound_user_is_answered_by_their_agent(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    feishu: FakeFeishu,
) -> None:
    await _bind_active(client, admin_headers, user_headers, ALICE_OPEN_ID)
    agent_id = await _agent(client, user_headers)
    chosen = await client.post(
        f"{API}/default-agent", json={"agent_id": agent_id}, headers=user_headers
    )
    assert chosen.status_code == 200
    fake_llm.script([{"content": "Hello from the agent"}, {"content": "Second answer"}])
    response = await client.post(f"{API}/event", json=message_event("ev-1", "hi there"))
    assert response.status_code == 200 and response.json() == {"ok": True, "duplicate": False}
    [sent] = await feishu.wait_messages(1)
    assert sent == {
        "query": {"receive_id_type": "chat_id"},
        "auth": "Bearer t-fake",
        "receive_id": "oc_chat1",
        "msg_type": "text",
        "text": "Hello from the agent",
    }
    assert feishu.token_calls == [{"app_id": "cli_test", "app_secret": "app-secret-value"}]
    first = fake_llm.requests[0]["messages"]
    assert first[0] == {"role": "system", "content": "Be brief."}
    assert first[-1]["content"] == "hi there"
    # The next message continues the same conversation, and the token is reused.
    await client.post(f"{API}/event", json=message_event("ev-2", "and again"))
    await feishu.wait_messages(2)
    assert feishu.messages[1]["text"] == "Second answer"
    contents = [m["content"] for m in fake_llm.requests[1]["messages"]]
    assert "hi there" in contents and "Hello from the agent" in contents
    assert len(feishu.token_calls) == 1


async def test_a_retried_delivery_is_answered_once(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    feishu: FakeFeishu,
) -> None:
    await _bind_active(client, admin_headers, user_headers, ALICE_OPEN_ID)
    fake_llm.script([{"content": "once", "delay_ms": 50}, {"content": "twice"}])
    event = message_event("ev-dup", "hello")
    first = await client.post(f"{API}/event", json=event)
    again = await client.post(f"{API}/event", json=event)
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    await feishu.wait_messages(1)
    await asyncio.sleep(0.2)
    await jobs.jobs().idle()
    assert [m["text"] for m in feishu.messages] == ["once"]
    assert len(fake_llm.requests) == 1


async def test_unbound_and_pending_senders_are_told_how_to_bind(
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    fake_llm: Any,
    feishu: FakeFeishu,
) -> None:
    await client.post(f"{API}/event", json=message_event("ev-u", "hi", open_id="ou_stranger"))
    [unbound] = await feishu.wait_messages(1)
    assert "ou_stranger" in unbound["text"] and "/api/v1/feishu/bind" in unbound["text"]
    await client.post(f"{API}/bind", json={"open_id": ALICE_OPEN_ID}, headers=user_headers)
    await client.post(f"{API}/event", json=message_event("ev-p", "hi"))
    messages = await feishu.wait_messages(2)
    assert "审批" in messages[1]["text"]
    assert fake_llm.requests == []


async def test_other_events_are_acknowledged_and_ignored(
    client: httpx.AsyncClient, feishu: FakeFeishu
) -> None:
    event = message_event("ev-read", "x")
    event["header"]["event_type"] = "im.message.message_read_v1"
    response = await client.post(f"{API}/event", json=event)
    assert response.status_code == 200 and response.json()["ok"] is True
    broken = message_event("ev-broken", "x")
    del broken["event"]["message"]["chat_id"]
    assert (await client.post(f"{API}/event", json=broken)).status_code == 400
    await asyncio.sleep(0.1)
    assert feishu.messages == []


async def test_the_global_default_agent_answers_when_the_user_chose_none(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    none = await client.get(f"{API}/default-agent", headers=user_headers)
    assert none.json() == {"agent_id": None, "agent_name": None, "source": "none"}
    global_agent = await _agent(client, admin_headers, "house bot")
    monkeypatch.setattr(get_settings(), "feishu_default_agent_id", global_agent)
    # Alice cannot see the admin's agent, so it does not apply to her.
    assert (await client.get(f"{API}/default-agent", headers=user_headers)).json()[
        "source"
    ] == "none"
    admin_view = (await client.get(f"{API}/default-agent", headers=admin_headers)).json()
    assert admin_view == {"agent_id": global_agent, "agent_name": "house bot", "source": "global"}


# --- bindings ---------------------------------------------------------------------------------


async def test_binding_is_pending_until_an_admin_approves(
    client: httpx.AsyncClient, admin_headers: dict[str, str], user_headers: dict[str, str]
) -> None:
    created = await client.post(
        f"{API}/bind", json={"open_id": ALICE_OPEN_ID}, headers=user_headers
    )
    assert created.status_code == 201 and created.json()["status"] == "pending"
    again = await client.post(f"{API}/bind", json={"open_id": ALICE_OPEN_ID}, headers=user_headers)
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    pending = (await client.get(f"{API}/pending", headers=admin_headers)).json()
    assert pending["total"] == 1 and pending["items"][0]["nickname"] == "alice"
    assert (await client.get(f"{API}/pending", headers=user_headers)).status_code == 403
    denied = await client.post(
        f"{API}/bind-pending",
        json={"open_id": ALICE_OPEN_ID, "action": "approve"},
        headers=user_headers,
    )
    assert denied.status_code == 403
    approved = await client.post(
        f"{API}/bind-pending",
        json={"open_id": ALICE_OPEN_ID, "action": "approve"},
        headers=admin_headers,
    )
    assert approved.json()["status"] == "active" and approved.json()["approved_at"]
    assert (await client.get(f"{API}/pending", headers=admin_headers)).json()["total"] == 0
    twice = await client.post(
        f"{API}/bind-pending",
        json={"open_id": ALICE_OPEN_ID, "action": "approve"},
        headers=admin_headers,
    )
    assert twice.status_code == 404 and twice.json()["error"] == "FEISHU_BINDING_NOT_FOUND"


async def test_rejected_binding_is_removed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], user_headers: dict[str, str]
) -> None:
    await client.post(f"{API}/bind", json={"open_id": ALICE_OPEN_ID}, headers=user_headers)
    rejected = await client.post(
        f"{API}/bind-pending",
        json={"open_id": ALICE_OPEN_ID, "action": "reject"},
        headers=admin_headers,
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    lookup = await client.post(
        f"{API}/lookup", json={"open_id": ALICE_OPEN_ID}, headers=admin_headers
    )
    assert lookup.status_code == 404
    bad = await client.post(
        f"{API}/bind-pending",
        json={"open_id": ALICE_OPEN_ID, "action": "maybe"},
        headers=admin_headers,
    )
    assert bad.status_code == 422


async def test_an_open_id_binds_to_one_user_only(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    await client.post(f"{API}/bind", json={"open_id": ALICE_OPEN_ID}, headers=user_headers)
    taken = await client.post(f"{API}/bind", json={"open_id": ALICE_OPEN_ID}, headers=other_headers)
    assert taken.status_code == 409 and taken.json()["error"] == "FEISHU_OPEN_ID_TAKEN"
    second = await client.post(
        f"{API}/bind", json={"open_id": "ou_alice0002"}, headers=user_headers
    )
    assert second.status_code == 409 and second.json()["error"] == "FEISHU_ALREADY_BOUND"


async def test_admin_binds_another_user_directly(
    client: httpx.AsyncClient, admin_headers: dict[str, str], user_headers: dict[str, str]
) -> None:
    me = (await client.get("/api/v1/auth/me", headers=user_headers)).json()
    bound = await client.post(
        f"{API}/bind", json={"open_id": "ou_direct", "user_id": me["id"]}, headers=admin_headers
    )
    assert bound.status_code == 201 and bound.json()["status"] == "active"
    assert bound.json()["user_id"] == me["id"]
    # A user cannot bind on behalf of someone else, and unknown users are not found.
    admin_id = (await client.get("/api/v1/auth/me", headers=admin_headers)).json()["id"]
    other = await client.post(
        f"{API}/bind", json={"open_id": "ou_x", "user_id": admin_id}, headers=user_headers
    )
    assert other.status_code == 404 and other.json()["error"] == "USER_NOT_FOUND"
    ghost = await client.post(
        f"{API}/bind", json={"open_id": "ou_y", "user_id": "no-such-user"}, headers=admin_headers
    )
    assert ghost.status_code == 404


async def test_lookup_shows_own_bindings_and_admins_see_all(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    await _bind_active(client, admin_headers, user_headers, ALICE_OPEN_ID)
    body = {"open_id": ALICE_OPEN_ID}
    mine = await client.post(f"{API}/lookup", json=body, headers=user_headers)
    assert mine.status_code == 200 and mine.json()["email"] == "alice@example.com"
    as_admin = await client.post(f"{API}/lookup", json=body, headers=admin_headers)
    assert as_admin.json()["nickname"] == "alice" and as_admin.json()["status"] == "active"
    as_bob = await client.post(f"{API}/lookup", json=body, headers=other_headers)
    assert as_bob.status_code == 404 and as_bob.json()["error"] == "FEISHU_BINDING_NOT_FOUND"
    unknown = await client.post(f"{API}/lookup", json={"open_id": "ou_none"}, headers=admin_headers)
    assert unknown.status_code == 404


async def test_unbind_own_or_as_admin_but_not_anothers(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    other_headers: dict[str, str],
) -> None:
    await _bind_active(client, admin_headers, user_headers, ALICE_OPEN_ID)
    body = {"open_id": ALICE_OPEN_ID}
    assert (await client.post(f"{API}/unbind", json=body, headers=other_headers)).status_code == 404
    assert (await client.post(f"{API}/unbind", json={}, headers=other_headers)).status_code == 404
    mine = await client.post(f"{API}/unbind", json={}, headers=user_headers)
    assert mine.status_code == 200 and mine.json()["open_id"] == ALICE_OPEN_ID
    assert (await client.post(f"{API}/unbind", json=body, headers=user_headers)).status_code == 404
    await _bind_active(client, admin_headers, user_headers, ALICE_OPEN_ID)
    by_admin = await client.post(f"{API}/unbind", json=body, headers=admin_headers)
    assert by_admin.status_code == 200


async def test_status_counts_bindings_and_never_echoes_secrets(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    feishu: FakeFeishu,
) -> None:
    await _bind_active(client, admin_headers, user_headers, ALICE_OPEN_ID)
    await client.post(f"{API}/bind", json={"open_id": "ou_bob"}, headers=other_headers)
    response = await client.get(f"{API}/status", headers=user_headers)
    assert response.status_code == 200
    status = response.json()
    assert status["configured"] is True and status["encrypt_key_set"] is False
    assert status["bindings"] == {"active": 1, "pending": 1}
    assert status["my_binding"]["open_id"] == ALICE_OPEN_ID
    for secret in ("app-secret-value", TOKEN, "cli_test"):
        assert secret not in response.text


async def test_default_agent_must_be_visible(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    mine = await _agent(client, user_headers, "mine")
    theirs = await _agent(client, other_headers, "theirs")
    set_mine = await client.post(
        f"{API}/default-agent", json={"agent_id": mine}, headers=user_headers
    )
    assert set_mine.json() == {"agent_id": mine, "agent_name": "mine", "source": "user"}
    assert (await client.get(f"{API}/default-agent", headers=user_headers)).json()[
        "agent_id"
    ] == mine
    other = await client.post(
        f"{API}/default-agent", json={"agent_id": theirs}, headers=user_headers
    )
    assert other.status_code == 404 and other.json()["error"] == "AGENT_NOT_FOUND"
    cleared = await client.post(
        f"{API}/default-agent", json={"agent_id": None}, headers=user_headers
    )
    assert cleared.json()["source"] == "none"
    assert (
        await client.post(f"{API}/default-agent", json={}, headers=user_headers)
    ).status_code == 422


@pytest.mark.parametrize(
    "body",
    [{}, {"open_id": ""}, {"open_id": "x" * 65}, {"open_id": "ou bad"}, {"open_id": "ou_\u0000"}],
)
async def test_bad_open_ids_are_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any]
) -> None:
    for path in ("bind", "lookup", "bind-pending"):
        response = await client.post(f"{API}/{path}", json=body, headers=admin_headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"] == "VALIDATION_ERROR"


async def test_every_endpoint_but_the_callback_needs_a_token(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("POST", "bind"),
        ("POST", "unbind"),
        ("POST", "lookup"),
        ("GET", "status"),
        ("GET", "pending"),
        ("POST", "bind-pending"),
        ("GET", "default-agent"),
        ("POST", "default-agent"),
    ]:
        response = await client.request(method, f"{API}/{path}", json={})
        assert response.status_code == 401, path
        assert response.json()["error"] == "NOT_AUTHENTICATED"


async def test_an_event_a_dead_process_left_is_answered_on_recovery(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    feishu: FakeFeishu,
) -> None:
    await _bind_active(client, admin_headers, user_headers, ALICE_OPEN_ID)
    fake_llm.script([{"content": "recovered answer"}])
    long_ago = utcnow() - timedelta(hours=1)
    async with session_factory()() as session:
        session.add_all(
            [
                # Claimed by a worker that died mid-answer.
                FeishuEvent(
                    event_id="ev-orphan",
                    open_id=ALICE_OPEN_ID,
                    chat_id="oc_chat1",
                    text="are you there",
                    status="running",
                    attempts=1,
                    updated_at=long_ago,
                ),
                # Interrupted too often: given up, not retried forever.
                FeishuEvent(
                    event_id="ev-cursed",
                    open_id=ALICE_OPEN_ID,
                    chat_id="oc_chat1",
                    text="again",
                    status="running",
                    attempts=jobs.MAX_ATTEMPTS,
                    updated_at=long_ago,
                ),
                # Answered long ago: purged.
                FeishuEvent(
                    event_id="ev-old",
                    open_id=ALICE_OPEN_ID,
                    chat_id="oc_chat1",
                    text="last month",
                    status="done",
                    attempts=1,
                    updated_at=utcnow() - timedelta(seconds=jobs.KEEP_FINISHED_S + 60),
                ),
            ]
        )
        await session.commit()
    await jobs.jobs().recover()
    [sent] = await feishu.wait_messages(1)
    assert sent["text"] == "recovered answer"
    async with session_factory()() as session:
        rows = (await session.execute(select(FeishuEvent))).scalars().all()
        assert {r.event_id: r.status for r in rows} == {"ev-orphan": "done", "ev-cursed": "failed"}


async def _events() -> dict[str, FeishuEvent]:
    async with session_factory()() as session:
        return {r.event_id: r for r in (await session.execute(select(FeishuEvent))).scalars()}


async def _recover_after_lease(event: FeishuEvent) -> None:
    """Recovery, once the event has waited out its lease."""
    async with session_factory()() as session:
        event.updated_at = utcnow() - timedelta(seconds=jobs.LEASE_S + 1)
        await session.merge(event)
        await session.commit()
    await jobs.jobs().recover()


async def test_a_failed_send_is_retried_with_the_stored_answer(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    feishu: FakeFeishu,
) -> None:
    await _bind_active(client, admin_headers, user_headers, ALICE_OPEN_ID)
    fake_llm.script([{"content": "the one answer"}])
    # A brief outage is ridden out within the job.
    feishu.fail_sends = 1
    response = await client.post(f"{API}/event", json=message_event("ev-blip", "hello"))
    assert response.status_code == 200, response.text
    [sent] = await feishu.wait_messages(1)
    assert sent["text"] == "the one answer" and feishu.failed_sends == 1
    assert (await _events())["ev-blip"].status == "done"

    # A longer one: the answer is kept and the event waits for recovery; the agent is not
    # asked again when the send is retried.
    fake_llm.script([{"content": "second answer"}])
    feishu.fail_sends = jobs.SEND_TRIES
    await client.post(f"{API}/event", json=message_event("ev-outage", "again"))
    await jobs.jobs().idle()
    event = (await _events())["ev-outage"]
    assert event.status == "queued" and event.reply == "second answer" and event.error
    asked = len(fake_llm.requests)
    await _recover_after_lease(event)
    messages = await feishu.wait_messages(2)
    assert messages[-1]["text"] == "second answer"
    assert len(fake_llm.requests) == asked
    assert (await _events())["ev-outage"].status == "done"


async def test_a_send_that_keeps_failing_gives_up_after_the_attempts(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    user_headers: dict[str, str],
    chat_model: Any,
    fake_llm: Any,
    feishu: FakeFeishu,
) -> None:
    await _bind_active(client, admin_headers, user_headers, ALICE_OPEN_ID)
    fake_llm.script([{"content": "never delivered"}])
    feishu.fail_sends = 10_000
    await client.post(f"{API}/event", json=message_event("ev-down", "hi"))
    await jobs.jobs().idle()
    for _ in range(jobs.MAX_ATTEMPTS):
        event = (await _events())["ev-down"]
        if event.status != "queued":
            break
        await _recover_after_lease(event)
        await jobs.jobs().idle()
    event = (await _events())["ev-down"]
    assert event.status == "failed" and event.attempts == jobs.MAX_ATTEMPTS
    assert feishu.failed_sends == jobs.MAX_ATTEMPTS * jobs.SEND_TRIES
    assert len(fake_llm.requests) == 1
