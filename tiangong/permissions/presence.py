"""Who is connected to a resource's collaboration session, kept in the shared cache so every
API process sees the same list. Each connection refreshes its entry on a heartbeat; an entry
whose process crashed simply stops being refreshed and drops out after PRESENCE_TTL_S."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from tiangong.cache import get_cache

HEARTBEAT_S = 10.0
PRESENCE_TTL_S = 30


def _key(resource_type: str, resource_id: str) -> str:
    return f"collab:presence:{resource_type}:{resource_id}"


async def touch(
    resource_type: str, resource_id: str, connection_id: str, member: dict[str, Any]
) -> None:
    """Add or refresh one connection; the whole hash lives while anyone heartbeats."""
    now = time.time()
    entry = {**member, "last_seen": now, "expires_at": now + PRESENCE_TTL_S}
    await get_cache().hset(
        _key(resource_type, resource_id),
        {connection_id: json.dumps(entry)},
        ttl=PRESENCE_TTL_S,
    )


async def leave(resource_type: str, resource_id: str, connection_id: str) -> None:
    await get_cache().hdel(_key(resource_type, resource_id), connection_id)


async def online(resource_type: str, resource_id: str) -> list[dict[str, Any]]:
    """One entry per user (a user may have several tabs open), earliest joiner first."""
    now = time.time()
    users: dict[str, dict[str, Any]] = {}
    for raw in (await get_cache().hgetall(_key(resource_type, resource_id))).values():
        if not raw:
            continue
        entry = json.loads(raw)
        if entry["expires_at"] <= now:
            continue
        seen = users.get(entry["user_id"])
        if seen is None:
            users[entry["user_id"]] = {
                "user_id": entry["user_id"],
                "nickname": entry["nickname"],
                "access": entry["access"],
                "connections": 1,
                "joined_at": entry["joined_at"],
                "last_seen": entry["last_seen"],
            }
        else:
            seen["connections"] += 1
            seen["joined_at"] = min(seen["joined_at"], entry["joined_at"])
            seen["last_seen"] = max(seen["last_seen"], entry["last_seen"])
    found = sorted(users.values(), key=lambda u: (u["joined_at"], u["user_id"]))
    for user in found:
        for field in ("joined_at", "last_seen"):
            user[field] = datetime.fromtimestamp(user[field], UTC).isoformat()
    return found
