"""LeanRoute answers every request exactly as an ordinary APIRoute would, only faster."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy import select

from tiangong.api.errors import install_error_handlers
from tiangong.api.lean_route import HotRoutes, LeanRoute, lean_post
from tiangong.app import create_app
from tiangong.auth.deps import CurrentUser
from tiangong.db.engine import get_engine, session_factory
from tiangong.db.session import SessionDep


class Body(BaseModel):
    message: str = Field(min_length=1, max_length=20)
    count: int = 1


async def echo(item_id: str, data: Body, session: SessionDep, user: CurrentUser) -> JSONResponse:
    # The session works and is the request's own: a read in it, committed at the boundary.
    one = (await session.execute(select(1))).scalar_one()
    return JSONResponse({"item": item_id, "data": data.model_dump(), "user": user.id, "one": one})


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter(prefix="/v1")
    lean_post(router, "/lean/{item_id}")(echo)
    router.add_api_route("/plain/{item_id}", echo, methods=["POST"])
    app.include_router(router)
    return app


def _requests(token: str) -> list[tuple[str, dict[str, Any]]]:
    auth = {"Authorization": f"Bearer {token}"}
    json_type = {"Content-Type": "application/json"}
    good = json.dumps({"message": "hi", "count": 2})
    return [
        ("valid", {"content": good, "headers": {**auth, **json_type}}),
        (
            "json+charset",
            {
                "content": good,
                "headers": {**auth, "Content-Type": "application/json; charset=utf-8"},
            },
        ),
        (
            "vendor json",
            {"content": good, "headers": {**auth, "Content-Type": "application/vnd.x+json"}},
        ),
        ("broken json", {"content": '{"message": ', "headers": {**auth, **json_type}}),
        ("empty body", {"content": "", "headers": {**auth, **json_type}}),
        ("no content type", {"content": good, "headers": auth}),
        ("text content type", {"content": good, "headers": {**auth, "Content-Type": "text/plain"}}),
        ("field error", {"content": '{"message": ""}', "headers": {**auth, **json_type}}),
        (
            "wrong type",
            {"content": '{"message": "x", "count": "many"}', "headers": {**auth, **json_type}},
        ),
        ("array body", {"content": "[1, 2]", "headers": {**auth, **json_type}}),
        ("bad utf-8", {"content": b'{"message": "\xff\xfe"}', "headers": {**auth, **json_type}}),
        ("too deep", {"content": "[" * 100_000 + "]" * 100_000, "headers": {**auth, **json_type}}),
        ("no token", {"content": good, "headers": json_type}),
        ("field error, no token", {"content": '{"message": ""}', "headers": json_type}),
        ("broken json, no token", {"content": "{", "headers": json_type}),
        ("basic scheme", {"content": good, "headers": {"Authorization": "Basic abc", **json_type}}),
        ("bad token", {"content": good, "headers": {"Authorization": "Bearer nope", **json_type}}),
        ("scheme only", {"content": good, "headers": {"Authorization": "Bearer", **json_type}}),
    ]


async def test_lean_route_answers_like_an_api_route(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    token = user_headers["Authorization"].split(" ", 1)[1]
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for name, request in _requests(token):
            lean = await http.post("/v1/lean/abc", **request)
            plain = await http.post("/v1/plain/abc", **request)
            assert (lean.status_code, lean.json()) == (plain.status_code, plain.json()), name
            assert lean.status_code != 500, name
        assert (await http.post("/v1/lean/abc", **_requests(token)[0][1])).json()["one"] == 1
        # Other methods: 405 as usual.
        lean_get, plain_get = await http.get("/v1/lean/abc"), await http.get("/v1/plain/abc")
        assert lean_get.status_code == plain_get.status_code == 405


async def test_lean_route_releases_the_request_session(
    client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    pool = get_engine().pool
    before = pool.checkedout() if hasattr(pool, "checkedout") else None
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/v1/lean/x", json={"message": "hi"}, headers=user_headers)
        assert response.status_code == 200, response.text
    if before is not None:
        assert pool.checkedout() == before


def test_lean_route_refuses_endpoints_it_cannot_serve() -> None:
    async def with_query(
        data: Body, session: SessionDep, user: CurrentUser, q: str = Query("")
    ) -> JSONResponse:
        return JSONResponse({})

    async def without_user(data: Body, session: SessionDep) -> JSONResponse:
        return JSONResponse({})

    for endpoint in (with_query, without_user):
        with pytest.raises(TypeError, match="LeanRoute cannot serve"):
            LeanRoute("/x", endpoint, methods=["POST"])


async def test_sessions_close_in_place_only_when_they_hold_nothing() -> None:
    pool = get_engine().pool
    before = pool.checkedout() if hasattr(pool, "checkedout") else None
    async with session_factory()() as unused:
        assert not unused.in_transaction()
    async with session_factory()() as used:
        assert (await used.execute(select(1))).scalar_one() == 1
        assert used.in_transaction()
    assert not used.in_transaction()
    if before is not None:
        assert pool.checkedout() == before


async def test_hot_routes_pick_what_the_router_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app()
    hot = app.router.middleware_stack
    assert isinstance(hot, HotRoutes) and len(hot.routes) == 3
    picked: list[Any] = []

    async def record(self: APIRoute, scope: Any, receive: Any, send: Any) -> None:
        picked.append((self, dict(scope.get("path_params") or {})))
        await PlainTextResponse("picked")(scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", record)
    monkeypatch.setattr(LeanRoute, "handle", record)

    async def dispatch(stack: Any, method: str, path: str) -> tuple[Any, ...]:
        picked.clear()
        sent: list[Any] = []
        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode()}
        scope |= {"root_path": "", "headers": [], "query_string": b"", "app": app}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message.get("status"))

        try:
            await stack(scope, receive, send)
        except Exception as exc:  # 404/405 raised for the exception middleware
            return (type(exc).__name__, getattr(exc, "status_code", None))
        return (picked[0] if picked else None, sent[0] if sent else None)

    samples = [
        ("POST", "/api/v1/agent-chat/bare/stream"),
        ("POST", "/api/v1/agent-chat/7c9e6679-7425-40de-944b-e07fc1f90ae7/stream"),
        ("POST", "/api/v1/agent-chat/branches/stream"),
        ("POST", "/api/v1/agent-chat/bare"),
        ("POST", "/api/v1/agent-chat/bare/stream/"),
        ("POST", "/api/v1/agent-chat/a b/stream"),
        ("POST", "/api/v1/agent-chat//stream"),
        ("GET", "/api/v1/agent-chat/branches/stream"),
        ("GET", "/api/v1/agent-chat/bare/stream"),
        ("POST", "/api/v1/agent/chat"),
        ("POST", "/api/v1/agent/chat/"),
        ("GET", "/api/v1/agent/chat"),
        ("POST", "/api/v1/agents"),
    ]
    for method, path in samples:
        fast, plain = await dispatch(hot, method, path), await dispatch(hot.app, method, path)
        assert fast == plain, (method, path)
