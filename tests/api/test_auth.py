from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt

from tests.conftest import register
from tiangong.security.keys import secret_key
from tiangong.security.tokens import create_access_token

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


async def test_register_login_me_round_trip(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER, json={"email": "Ann@Example.com", "password": "s3cret-pass", "nickname": "ann"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ann@example.com"
    assert "password" not in response.text and "s3cret-pass" not in response.text
    assert len(body["id"]) == 36

    response = await client.post(LOGIN, data={"username": "ann", "password": "s3cret-pass"})
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer"

    me = await client.get(ME, headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200
    assert me.json()["nickname"] == "ann"


async def test_login_accepts_email_in_any_case(client: httpx.AsyncClient) -> None:
    await register(client, "case@example.com", "case")
    response = await client.post(
        LOGIN, data={"username": "CASE@example.com", "password": "correct-horse-1"}
    )
    assert response.status_code == 200


async def test_first_user_is_admin_and_later_users_are_not(client: httpx.AsyncClient) -> None:
    first = await register(client, "first@example.com", "first")
    second = await register(client, "second@example.com", "second")
    assert (await client.get(ME, headers=first)).json()["role"] == "admin"
    assert (await client.get(ME, headers=second)).json()["role"] == "user"


async def test_wrong_password_is_401_in_error_shape(client: httpx.AsyncClient) -> None:
    await register(client, "pw@example.com", "pw")
    response = await client.post(LOGIN, data={"username": "pw@example.com", "password": "nope"})
    assert response.status_code == 401
    assert response.json() == {
        "error": "INVALID_CREDENTIALS",
        "message": "Incorrect username or password",
    }


async def test_unknown_user_gets_the_same_answer_as_wrong_password(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(LOGIN, data={"username": "ghost", "password": "whatever1"})
    assert response.status_code == 401
    assert response.json()["error"] == "INVALID_CREDENTIALS"


async def test_duplicate_email_is_409(client: httpx.AsyncClient) -> None:
    await register(client, "dup@example.com", "dup")
    response = await client.post(
        REGISTER, json={"email": "DUP@example.com", "password": "another-pass", "nickname": "dup2"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "EMAIL_TAKEN"


async def test_duplicate_nickname_is_409(client: httpx.AsyncClient) -> None:
    await register(client, "n1@example.com", "same")
    response = await client.post(
        REGISTER, json={"email": "n2@example.com", "password": "another-pass", "nickname": "same"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "NICKNAME_TAKEN"


async def test_register_validation_errors_name_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER, json={"email": "not-an-email", "password": "short", "nickname": "a@b"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "VALIDATION_ERROR"
    fields = {detail["field"] for detail in body["details"]}
    assert {"body.email", "body.password", "body.nickname"} <= fields


async def test_malformed_json_is_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"


async def test_login_without_form_fields_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, data={"username": "x"})
    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"


async def test_me_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"] == "NOT_AUTHENTICATED"


async def test_expired_token_is_rejected(client: httpx.AsyncClient) -> None:
    headers = await register(client, "exp@example.com", "exp")
    user_id = (await client.get(ME, headers=headers)).json()["id"]
    expired = create_access_token(user_id, minutes=-1)
    response = await client.get(ME, headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["error"] == "TOKEN_EXPIRED"


async def test_a_verified_token_still_expires(client: httpx.AsyncClient) -> None:
    """Verified tokens are remembered (no signature check per request), but not past expiry."""
    headers = await register(client, "late@example.com", "late")
    user_id = (await client.get(ME, headers=headers)).json()["id"]
    expires = int(time.time()) + 2
    claims = {"sub": user_id, "iat": expires - 60, "exp": expires, "typ": "access"}
    token = jwt.encode(claims, secret_key(), algorithm="HS256")
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get(ME, headers=auth)).status_code == 200  # verified and remembered
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
    response = await client.get(ME, headers=auth)
    assert response.status_code == 401 and response.json()["error"] == "TOKEN_EXPIRED"


async def test_forged_token_is_rejected(client: httpx.AsyncClient) -> None:
    headers = await register(client, "forge@example.com", "forge")
    user_id = (await client.get(ME, headers=headers)).json()["id"]
    now = datetime.now(UTC)
    claims = {"sub": user_id, "iat": now, "exp": now + timedelta(hours=1), "typ": "access"}
    forged = jwt.encode(claims, "not-the-server-key-but-long-enough-32b", algorithm="HS256")
    response = await client.get(ME, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["error"] == "INVALID_TOKEN"


async def test_unsigned_token_is_rejected(client: httpx.AsyncClient) -> None:
    headers = await register(client, "none@example.com", "nonealg")
    user_id = (await client.get(ME, headers=headers)).json()["id"]
    exp = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    unsigned = jwt.encode({"sub": user_id, "exp": exp, "iat": exp - 60}, None, algorithm="none")
    response = await client.get(ME, headers={"Authorization": f"Bearer {unsigned}"})
    assert response.status_code == 401


async def test_token_of_deleted_user_is_rejected(client: httpx.AsyncClient) -> None:
    token = create_access_token("00000000-0000-0000-0000-000000000000")
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_garbage_bearer_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(ME, headers={"Authorization": "Bearer abc.def.ghi"})
    assert response.status_code == 401
    assert response.json()["error"] == "INVALID_TOKEN"


async def test_secret_key_is_generated_and_kept_in_data_dir(settings: object) -> None:
    from tiangong.config import get_settings

    path = get_settings().data_dir / "secret_key"
    assert path.exists()
    assert path.read_text().strip() == secret_key()
    assert (path.stat().st_mode & 0o777) == 0o600


async def test_repeated_failures_lock_the_account(
    client: httpx.AsyncClient, settings: object
) -> None:
    await register(client, "brute@example.com", "brute")
    from tiangong.config import get_settings

    limit = get_settings().login_max_failures
    for _ in range(limit):
        response = await client.post(LOGIN, data={"username": "brute", "password": "wrong-pass"})
        assert response.status_code == 401
    response = await client.post(LOGIN, data={"username": "brute", "password": "correct-horse-1"})
    assert response.status_code == 429
    assert response.json()["error"] == "LOGIN_THROTTLED"
    assert int(response.headers["retry-after"]) > 0


async def test_success_resets_the_failure_count(client: httpx.AsyncClient) -> None:
    await register(client, "reset@example.com", "reset")
    from tiangong.config import get_settings

    limit = get_settings().login_max_failures
    for _ in range(limit - 1):
        await client.post(LOGIN, data={"username": "reset", "password": "wrong-pass"})
    ok = await client.post(LOGIN, data={"username": "reset", "password": "correct-horse-1"})
    assert ok.status_code == 200
    for _ in range(limit - 1):
        response = await client.post(LOGIN, data={"username": "reset", "password": "wrong-pass"})
        assert response.status_code == 401
