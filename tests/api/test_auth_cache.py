"""The per-process cache of authenticated users follows changes to the user row."""

from __future__ import annotations

import httpx
from sqlalchemy import delete, update

from tiangong.auth.deps import users
from tiangong.auth.models import User
from tiangong.db.engine import session_factory

ME = "/api/v1/auth/me"


async def _user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.get(ME, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def test_deactivation_and_deletion_apply_at_once(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    user_id = await _user_id(client, user_headers)  # now cached
    async with session_factory()() as session:
        await users.changed(session)
        await session.execute(update(User).where(User.id == user_id).values(is_active=False))
        await session.commit()
    assert (await client.get(ME, headers=user_headers)).status_code == 401

    async with session_factory()() as session:
        await users.changed(session)
        await session.execute(update(User).where(User.id == user_id).values(is_active=True))
        await session.commit()
    assert (await client.get(ME, headers=user_headers)).status_code == 200

    async with session_factory()() as session:
        await users.changed(session)
        await session.execute(delete(User).where(User.id == user_id))
        await session.commit()
    assert (await client.get(ME, headers=user_headers)).status_code == 401


async def test_the_cached_user_is_a_detached_copy(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _user_id(client, admin_headers)
    response = await client.get(ME, headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
