"""Notifications: the recipient's list (paging, unread and kind filters), unread count, marking
read one or all, deleting; nobody else can see or touch them."""

from __future__ import annotations

import httpx

from tests.api.asserts import assert_error
from tiangong.db.engine import session_factory
from tiangong.notices.service import notify

API = "/api/v1/notifications"


async def user_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.get("/api/v1/auth/me", headers=headers)).json()["id"])


async def send(owner: str, kind: str, title: str, **extra: str) -> str:
    async with session_factory()() as session:
        row = await notify(session, owner, kind, title, "body text", **extra)
        await session.commit()
        return row.id


async def test_list_filters_paging_and_unread_count(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    alice = await user_id(client, user_headers)
    bob = await user_id(client, other_headers)
    first = await send(alice, "system", "welcome")
    await send(alice, "alert", "error rate high", link="/alert-rules/logs", resource_id="r1")
    await send(alice, "alert", "x" * 300)  # long titles are cut, not refused
    await send(bob, "alert", "bob's")

    listed = (await client.get(API, headers=user_headers)).json()
    assert listed["total"] == 3 and listed["unread"] == 3
    titles = [n["title"] for n in listed["items"]]
    assert titles[0] == "x" * 200 and titles[-1] == "welcome"  # newest first
    assert all(not n["read"] and n["read_at"] is None for n in listed["items"])
    paged = (await client.get(API, params={"page_size": 2, "page": 2}, headers=user_headers)).json()
    assert [n["id"] for n in paged["items"]] == [first]
    alerts = (await client.get(API, params={"kind": "alert"}, headers=user_headers)).json()
    assert alerts["total"] == 2
    linked = next(n for n in alerts["items"] if n["link"])
    assert linked["link"] == "/alert-rules/logs" and linked["resource_id"] == "r1"

    count = await client.get(f"{API}/unread-count", headers=user_headers)
    assert count.status_code == 200 and count.json() == {"unread": 3}
    assert (await client.get(f"{API}/unread-count", headers=other_headers)).json() == {"unread": 1}


async def test_mark_read_read_all_and_delete(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    alice = await user_id(client, user_headers)
    one = await send(alice, "system", "one")
    await send(alice, "system", "two")
    await send(alice, "alert", "three")

    read = await client.put(f"{API}/{one}/read", headers=user_headers)
    assert read.status_code == 200 and read.json()["read"] is True
    first_read_at = read.json()["read_at"]
    again = await client.put(f"{API}/{one}/read", headers=user_headers)
    assert again.json()["read_at"] == first_read_at  # idempotent, keeps the first time
    unread = (await client.get(API, params={"unread": "true"}, headers=user_headers)).json()
    assert unread["total"] == 2 and one not in [n["id"] for n in unread["items"]]
    done = (await client.get(API, params={"unread": "false"}, headers=user_headers)).json()
    assert [n["id"] for n in done["items"]] == [one]

    all_read = await client.put(f"{API}/read-all", headers=user_headers)
    assert all_read.status_code == 200 and all_read.json() == {"updated": 2}
    assert (await client.put(f"{API}/read-all", headers=user_headers)).json() == {"updated": 0}
    assert (await client.get(f"{API}/unread-count", headers=user_headers)).json()["unread"] == 0

    deleted = await client.delete(f"{API}/{one}", headers=user_headers)
    assert deleted.status_code == 204
    assert_error(
        await client.delete(f"{API}/{one}", headers=user_headers), 404, "NOTIFICATION_NOT_FOUND"
    )
    assert (await client.get(API, headers=user_headers)).json()["total"] == 2


async def test_only_the_recipient_sees_or_changes_a_notification(
    client: httpx.AsyncClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    alice = await user_id(client, user_headers)
    mine = await send(alice, "system", "private")
    assert (await client.get(API, headers=other_headers)).json()["total"] == 0
    assert_error(
        await client.put(f"{API}/{mine}/read", headers=other_headers), 404, "NOTIFICATION_NOT_FOUND"
    )
    assert_error(
        await client.delete(f"{API}/{mine}", headers=other_headers), 404, "NOTIFICATION_NOT_FOUND"
    )
    # Bob's read-all does not touch Alice's.
    assert (await client.put(f"{API}/read-all", headers=other_headers)).json() == {"updated": 0}
    assert (await client.get(f"{API}/unread-count", headers=user_headers)).json()["unread"] == 1


async def test_bad_input_and_no_token(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    for params in ({"page": 0}, {"page_size": 101}, {"kind": "k" * 33}, {"unread": "maybe"}):
        response = await client.get(API, params=params, headers=user_headers)
        assert_error(response, 422, "VALIDATION_ERROR")
    assert_error(
        await client.put(f"{API}/nope/read", headers=user_headers), 404, "NOTIFICATION_NOT_FOUND"
    )
    for method, path in (
        ("GET", API),
        ("GET", f"{API}/unread-count"),
        ("PUT", f"{API}/read-all"),
        ("PUT", f"{API}/x/read"),
        ("DELETE", f"{API}/x"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 401 and response.json()["error"] == "NOT_AUTHENTICATED"
