"""Records every authenticated mutating /api/v1 request in the audit trail: who, what, the
outcome and how long it took. Never the body, the query string or any header but the caller's
identity. Pure ASGI, so streamed responses pass through untouched; the entry is built after the
response is finished and only appended to a buffer (see recorder)."""

from __future__ import annotations

import re
import time
from datetime import datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiangong.db.base import new_id, utcnow
from tiangong.errors import AppError
from tiangong.logs import request_id_var
from tiangong.notices.audit import recorder
from tiangong.security.tokens import decode_access_token

PREFIX = "/api/v1/"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ID = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d{1,20})$"
)
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def _clean(text: str, limit: int) -> str:
    """Storable on every database: no NUL, no lone surrogates, bounded."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")[:limit]


def describe(method: str, path: str, template: str | None = None) -> tuple[str, str, str | None]:
    """(action, resource_type, resource_id) of a request under /api/v1/.

    The resource type is the first segment. With the matched route's template the id is the
    first path parameter and a trailing literal segment names a sub-action
    (`POST /agents/{agent_id}/publish` -> "publish", `PUT /notifications/read-all` ->
    "read-all"); otherwise the method's verb. Without a route (an unknown path) the id is the
    first segment that looks like one (UUID or integer)."""
    segments = [s for s in path[len(PREFIX) :].split("/") if s]
    resource_type = _clean(segments[0], 64) if segments else "-"
    action = _VERBS[method]
    if template is None:
        return action, resource_type, next((s for s in segments[1:] if _ID.match(s)), None)
    # The template is relative to its router's prefix: it matches the path's last segments.
    parts = [s for s in template.split("/") if s]
    offset = len(segments) - len(parts)
    params = [i for i, part in enumerate(parts) if part.startswith("{")]
    resource_id = _clean(segments[offset + params[0]], 64) if params and offset >= 0 else None
    if len(parts) >= 2 and not parts[-1].startswith("{"):
        action = _clean(parts[-1], 64)
    return action, resource_type, resource_id


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def _identify(token: str | None) -> str | None:
    """The caller's user id (decoding is cached; see tokens). Whether the token was still good
    is what the response says: a 401 is never recorded."""
    if not token:
        return None
    try:
        return decode_access_token(token)[:36]
    except AppError:
        return None


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "")
        path = scope.get("path", "")
        if scope["type"] != "http" or method not in MUTATING or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        started_at = utcnow()
        started = time.perf_counter()
        status = 500  # if the app raises before answering

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            _record(scope, method, path, status, started_at, time.perf_counter() - started)


def _record(
    scope: Scope, method: str, path: str, status: int, started_at: datetime, elapsed_s: float
) -> None:
    if status == 401:
        return
    user_id = _identify(_bearer(scope))
    if user_id is None:
        return
    route = scope.get("route")
    template = getattr(route, "path", None)
    action, resource_type, resource_id = describe(
        method, path, template if isinstance(template, str) else None
    )
    client = scope.get("client")
    recorder.record(
        {
            "id": new_id(),
            "created_at": started_at,
            "user_id": user_id,
            "method": method,
            "path": _clean(path, 500),
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "status_code": status,
            "ip": _clean(str(client[0]), 64) if client else None,
            "duration_ms": round(elapsed_s * 1000, 3),
            "request_id": request_id_var.get()[:64],
        }
    )
