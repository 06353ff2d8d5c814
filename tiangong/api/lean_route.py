"""A route for the chat stream endpoints that skips FastAPI's per-request machinery.

A streamed chat turn is the platform's hottest request, and a timing probe put about 2 ms of
its time to first token in FastAPI's request handling before the endpoint ran (telemetry and
operation contexts, two exit stacks, generic dependency solving) and more between the endpoint's
return and the response head. `LeanRoute` is an ordinary `APIRoute`, so the endpoint is still
declared, documented and matched like any other, but a request it can serve plainly is run
directly: read the body, parse and validate it with the endpoint's body model, open the request
session (`get_session`, so the commit/rollback boundary is the same code), authenticate with
`get_current_user`, call the endpoint, send its response.

Anything else (an unreadable or invalid body, a content type that is not JSON) goes to
FastAPI's own handling with the body replayed, so every error is reported exactly as elsewhere
(same 422 details, same precedence of 401 over field errors). Errors the endpoint raises reach
the app's exception handlers as they would from any route.

Supported endpoints take one JSON body model, string path parameters, `SessionDep` and
`CurrentUser`, and nothing else; anything more is refused when the route is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiangong.auth.deps import get_current_user
from tiangong.db.session import get_session

_request_session = asynccontextmanager(get_session)


class LeanRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self._plan = _plan(self)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in (self.methods or ()):
            await super().handle(scope, receive, send)  # 405 as usual
            return
        body = await _read_body(receive)
        data = self._parse(scope, body)
        if data is None:
            await super().handle(scope, _replay(body, receive), send)
            return
        plan = self._plan
        async with _request_session() as session:
            user = await get_current_user(session, _credentials(scope))
            kwargs: dict[str, Any] = dict(scope.get("path_params") or {})
            kwargs[plan.body] = data
            kwargs[plan.session] = session
            kwargs[plan.user] = user
            response = await self.endpoint(**kwargs)
        await response(scope, receive, send)

    def _parse(self, scope: Scope, body: bytes) -> BaseModel | None:
        """The body model, or None when FastAPI should handle (and report) the request."""
        if not body or not _is_json(scope):
            return None
        try:
            return self._plan.model.model_validate(json.loads(body))
        except (
            Exception
        ):  # invalid JSON or fields, bad UTF-8, nesting too deep: FastAPI's to report
            return None


class _Plan:
    def __init__(self, model: type[BaseModel], body: str, session: str, user: str) -> None:
        self.model, self.body, self.session, self.user = model, body, session, user


def _plan(route: APIRoute) -> _Plan:
    dependant = route.dependant
    calls = {sub.call: sub.name for sub in dependant.dependencies}
    body_params = dependant.body_params
    model = body_params[0].field_info.annotation if len(body_params) == 1 else None
    supported = (
        isinstance(model, type)
        and issubclass(model, BaseModel)
        and not route._embed_body_fields
        and set(calls) == {get_session, get_current_user}
        and not (dependant.query_params or dependant.header_params or dependant.cookie_params)
        and all(p.field_info.annotation is str for p in dependant.path_params)
        and not route.dependencies
    )
    if not supported:
        raise TypeError(f"LeanRoute cannot serve {route.path}: unsupported parameters")
    assert isinstance(model, type) and issubclass(model, BaseModel)
    session, user = calls[get_session], calls[get_current_user]
    assert session and user
    return _Plan(model, body_params[0].name, session, user)


def lean_post(router: APIRouter, path: str, **kwargs: Any) -> Callable[[Any], Any]:
    """`@router.post(path)` served by a LeanRoute."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(
            path, endpoint, methods=["POST"], route_class_override=LeanRoute, **kwargs
        )
        return endpoint

    return register


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # disconnected: FastAPI's handling meets the same end
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _is_json(scope: Scope) -> bool:
    content_type = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _credentials(scope: Scope) -> HTTPAuthorizationCredentials | None:
    """As `HTTPBearer(auto_error=False)` reads the Authorization header."""
    scheme, token = get_authorization_scheme_param(_header(scope, b"authorization"))
    if not (scheme and token) or scheme.lower() != "bearer":
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=token)


class HotRoutes:
    """In front of the app's router: LeanRoutes matched by their full path first.

    FastAPI's matching of an included route (0.165) walks the router tree twice per request
    (once to match, once to dispatch), a fifth of the chat stream's time before the endpoint.
    Taking a LeanRoute here gives the same answer as long as no route matched before it in the
    router's order takes the same method and path: the lean routers are included first among
    the API routers (see api.router), other methods fall through, and a test compares the two
    dispatches."""

    def __init__(self, app: ASGIApp, prefix: str, routers: Sequence[APIRouter]) -> None:
        self.app = app
        self.routes = []
        for router in routers:
            for route in router.routes:
                if isinstance(route, LeanRoute):
                    regex, _, convertors = compile_path(prefix + route.path)
                    self.routes.append((regex, convertors, route))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            for regex, convertors, route in self.routes:
                match = regex.match(scope["path"])
                if match is not None:
                    params = {k: convertors[k].convert(v) for k, v in match.groupdict().items()}
                    scope["path_params"] = {**scope.get("path_params", {}), **params}
                    scope["endpoint"] = route.endpoint
                    scope["route"] = route
                    await route.handle(scope, receive, send)
                    return
        await self.app(scope, receive, send)
