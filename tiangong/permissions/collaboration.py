"""Live collaboration on an agent or workflow: WebSocket
`/collaboration/ws/{resource_type}/{resource_id}` and the list of who is online.

Every connection subscribes to the resource's bus channel, so cursors, selections and edit
operations reach the others whichever API process they are connected to. Edit operations are
relayed, not applied: the editing client still saves through the resource's own API. Presence
lives in the shared cache (see presence.py).

Protocol (JSON text frames, at most MAX_MESSAGE_BYTES each):
  client -> server  {"type": "auth", "token": ...}  (first frame, when no ?token= was given)
                    {"type": "cursor" | "selection" | "operation", "data": {...}}
                    {"type": "ping"}
  server -> client  {"type": "welcome", "connection_id", "access", "users"}
                    {"type": "join" | "leave", "from": {...}}
                    {"type": "cursor" | "selection" | "operation", "from": {...}, "data", "ts"}
                    {"type": "pong"} and {"type": "error", "error": CODE, "message"}
Close codes: 1008 (policy violation) without a valid token, for a resource the user cannot see,
or when their access is revoked; 1009 for a frame over the size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, WebSocket, WebSocketDisconnect
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.websockets import WebSocketState

from tiangong.auth.deps import CurrentUser, get_current_user
from tiangong.auth.models import User
from tiangong.bus import publish, subscribe
from tiangong.db.engine import session_factory
from tiangong.db.session import SessionDep
from tiangong.errors import AppError
from tiangong.permissions import access, presence

router = APIRouter(prefix="/collaboration", tags=["collaboration"])

CollabType = Literal["agent", "workflow"]
TYPES = ("agent", "workflow")
MAX_MESSAGE_BYTES = 16_384
AUTH_WAIT_S = 10.0
POLICY_VIOLATION = 1008
TOO_BIG = 1009


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=4_000)


class _Relayed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["cursor", "selection", "operation"]
    data: dict[str, Any]


class _Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ping"]


_INCOMING: TypeAdapter[_Relayed | _Ping] = TypeAdapter(
    Annotated[_Relayed | _Ping, Field(discriminator="type")]
)


class OnlineUser(BaseModel):
    user_id: str
    nickname: str
    access: str
    connections: int
    joined_at: str
    last_seen: str


class OnlineUsers(BaseModel):
    resource_type: str
    resource_id: str
    users: list[OnlineUser]
    total: int


def channel(resource_type: str, resource_id: str) -> str:
    return f"collab:{resource_type}:{resource_id}"


@router.get("/{resource_type}/{resource_id}/users", response_model=OnlineUsers)
async def online_users(
    resource_type: CollabType,
    resource_id: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    user: CurrentUser,
) -> OnlineUsers:
    """Who has the resource open now (one entry per user, however many tabs)."""
    await access.reachable(session, user, resource_type, resource_id)
    users = [OnlineUser(**u) for u in await presence.online(resource_type, resource_id)]
    return OnlineUsers(
        resource_type=resource_type, resource_id=resource_id, users=users, total=len(users)
    )


async def _user(token: str) -> User:
    async with session_factory()() as session:
        return await get_current_user(
            session, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
        )


async def _access(user: User, resource_type: str, resource_id: str) -> str:
    async with session_factory()() as session:
        return (await access.reachable(session, user, resource_type, resource_id))[1]


async def _first_frame_token(websocket: WebSocket) -> str | None:
    try:
        async with asyncio.timeout(AUTH_WAIT_S):
            text = await websocket.receive_text()
        return _Auth.model_validate_json(text).token
    except (TimeoutError, ValidationError, KeyError, WebSocketDisconnect, RuntimeError):
        return None


class _Connection:
    """One open socket: relays its frames to the channel and the channel's frames to it."""

    def __init__(self, websocket: WebSocket, user: User, level: str, kind: str, rid: str):
        self.websocket = websocket
        self.user = user
        self.level = level
        self.kind = kind
        self.rid = rid
        self.id = uuid.uuid4().hex
        self.joined_at = time.time()
        self.me = {"connection_id": self.id, "user_id": user.id, "nickname": user.nickname}
        self.send_lock = asyncio.Lock()
        self.stopping = asyncio.Event()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))

    async def touch(self) -> None:
        member = {**self.me, "access": self.level, "joined_at": self.joined_at}
        await presence.touch(self.kind, self.rid, self.id, member)

    async def read(self) -> None:
        """Client frames until it leaves or sends one too large."""
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._error("INVALID_MESSAGE", "frames must be JSON text")
                continue
            if len(text.encode()) > MAX_MESSAGE_BYTES:
                await _close(self.websocket, TOO_BIG, "MESSAGE_TOO_BIG")
                return
            try:
                frame = _INCOMING.validate_json(text)
            except ValidationError as exc:
                await self._error("INVALID_MESSAGE", _first_problem(exc))
                continue
            if isinstance(frame, _Ping):
                await self.send({"type": "pong"})
            elif frame.type == "operation" and self.level == "view":
                await self._error("READ_ONLY", "a view grant cannot send edit operations")
            else:
                await publish(
                    channel(self.kind, self.rid),
                    {"type": frame.type, "from": self.me, "data": frame.data, "ts": time.time()},
                )

    async def forward(self, subscription: Any) -> None:
        """The others' frames from the channel, until told to stop."""
        while not self.stopping.is_set():
            # A short wait rather than a cancel: cancelling a Redis read breaks its connection.
            frame = await subscription.get(wait_s=0.5)
            if frame is not None and frame.get("from", {}).get("connection_id") != self.id:
                await self.send(frame)

    async def _error(self, code: str, message: str) -> None:
        await self.send({"type": "error", "error": code, "message": message})


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


@router.websocket("/ws/{resource_type}/{resource_id}")
async def collaborate(
    websocket: WebSocket,
    resource_type: str,
    resource_id: str,
    token: Annotated[str | None, Query(max_length=4_000)] = None,
) -> None:
    await websocket.accept()
    if resource_type not in TYPES or len(resource_id) > 64:
        await _close(websocket, POLICY_VIOLATION, "UNSUPPORTED_RESOURCE")
        return
    token = token or await _first_frame_token(websocket)
    try:
        if not token:
            await _close(websocket, POLICY_VIOLATION, "NOT_AUTHENTICATED")
            return
        user = await _user(token)
        level = await _access(user, resource_type, resource_id)
    except AppError as exc:
        await _close(websocket, POLICY_VIOLATION, exc.code)
        return
    await _session(_Connection(websocket, user, level, resource_type, resource_id))


async def _session(conn: _Connection) -> None:
    name = channel(conn.kind, conn.rid)
    async with subscribe(name) as subscription:
        await conn.touch()
        users = await presence.online(conn.kind, conn.rid)
        await conn.send(
            {"type": "welcome", "connection_id": conn.id, "access": conn.level, "users": users}
        )
        await publish(name, {"type": "join", "from": conn.me})
        reader = asyncio.create_task(conn.read())
        forwarder = asyncio.create_task(conn.forward(subscription))
        try:
            await _heartbeat(conn, reader, forwarder)
        finally:
            conn.stopping.set()
            reader.cancel()
            with contextlib.suppress(Exception):
                await presence.leave(conn.kind, conn.rid, conn.id)
                await publish(name, {"type": "leave", "from": conn.me})
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await forwarder
    await _close(conn.websocket, 1000)


async def _heartbeat(
    conn: _Connection, reader: asyncio.Task[None], forwarder: asyncio.Task[None]
) -> None:
    """Refresh presence and re-check access until either side ends; access revoked while
    connected (grant removed, agent deleted) closes the socket."""
    while True:
        done, _ = await asyncio.wait(
            {reader, forwarder}, timeout=presence.HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED
        )
        if done:
            return
        try:
            conn.level = await _access(conn.user, conn.kind, conn.rid)
        except AppError:
            await _close(conn.websocket, POLICY_VIOLATION, "ACCESS_REVOKED")
            return
        await conn.touch()


async def _close(websocket: WebSocket, code: int, reason: str | None = None) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # the client left first
        await websocket.close(code=code, reason=reason)
