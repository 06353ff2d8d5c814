"""A sweep over every HTTP route: bad input never answers 500, errors keep the documented
shape, a missing token is a 401, and another user's resources are 404.

Routes are read from the app itself, so a new module is swept without touching this file;
a route the sweep cannot drive fails `test_every_route_is_swept` until it is listed below.
Failures are collected and reported together as (method, path, input, status, body).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts

# Non-APIRoute entries of the app and why the sweep leaves them out.
SKIPPED = {
    "/openapi.json": "the schema document; takes no input",
    "/docs-assets": "static files mounted for /docs",
    "/docs": "the packaged docs page; takes no input",
    "/mcp": "MCP Streamable HTTP protocol endpoint; its own tests (tests/api/test_mcp.py)",
}
# Authenticated by something other than the bearer token (or not at all), on purpose.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    # Webhook triggers carry a signature or secret, not a user's token.
    ("POST", "/api/v1/webhooks/by-name/{name}"),
    ("POST", "/api/v1/webhooks/{workflow_id}"),
    ("POST", "/api/v1/feishu/event"),  # Feishu's callback: its verification token and signature
}
SMARTFLOW = "/api/v1/agent/"
# Plausible values for the non-resource path parameters of the ownership sweep.
PLAIN_PARAMS = {"version": "1", "node_id": "start", "tool_name": "x", "name": "x"}
JUNK = ["../../etc/passwd", "%00", "\x00", "x" * 5000, "-1", "9" * 30, "😀"]
RAW_BODIES: list[tuple[str, bytes]] = [
    ("invalid-json", b"{"),
    ("list", b"[]"),
    ("string", b'"x"'),
    ("number", b"123"),
    ("overflow", b'{"a": {"b": [1e309]}}'),
    ("deep", b'{"a":' * 200 + b"1" + b"}" * 200),
]
FLAVOURS = ("typical", "extra", "empty", "long", "nul", "huge", "negative", "enum")
LONG = "x" * 70_000  # longer than a MySQL TEXT column
REQUEST_TIMEOUT_S = 20
# The platform is fine, something it calls is not (no internet here; the fake model's "ok" is
# not a plan): allowed with the error shape, unlike 500.
UPSTREAM_STATUSES = (502, 504)


def http_routes(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(method, path, route) for every HTTP route the sweep drives."""
    found = []
    for ctx in iter_route_contexts(app.routes):
        route, path = ctx.original_route, ctx.path
        if isinstance(route, APIWebSocketRoute) or path in SKIPPED:
            continue
        assert isinstance(route, APIRoute), f"cannot sweep {type(route).__name__} {path}"
        for method in sorted(ctx.methods or ()):
            found.append((method, path, ctx))
    return found


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)(?::\w+)?}", path)


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(
        r"{(\w+)(?::\w+)?}", lambda m: quote(values.get(m.group(1), str(uuid.uuid4())), ""), path
    )


class BodyMaker:
    """Request bodies generated from the OpenAPI schema, in a few boundary flavours."""

    def __init__(self, openapi: dict[str, Any]) -> None:
        self.components = openapi.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def make(
        self, schema: dict[str, Any], flavour: str, depth: int = 0, in_long: bool = False
    ) -> Any:
        """A value for the schema; each flavour breaks one kind of field and keeps the rest
        plausible, so the boundary reaches the code behind validation. In a "long" body only
        the outermost arrays are long, and only their first item has long values: long items
        in long arrays in long arrays grow the body exponentially (gigabytes for a schema
        with lists in lists)."""
        schema = self.resolve(schema)
        if depth > 6:
            return None
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = [b for b in schema[key] if self.resolve(b).get("type") != "null"]
                return self.make(branches[0] if branches else {}, flavour, depth + 1, in_long)
        if "allOf" in schema:
            return self.make(schema["allOf"][0], flavour, depth + 1, in_long)
        if "const" in schema:
            return schema["const"] if flavour != "enum" else "not-the-const"
        if "enum" in schema:
            return schema["enum"][0] if flavour != "enum" else "not-an-enum-value"
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            required = set(schema.get("required", []))
            keys = [k for k in props if flavour != "empty" or k in required]
            body = {k: self.make(props[k], flavour, depth + 1, in_long) for k in keys}
            if flavour == "extra":
                body["zz_unexpected_field"] = {"nested": [1, "two"]}
            return body
        if kind == "array":
            if flavour == "empty":
                return []
            items = schema.get("items", {})
            item = self.make(items, flavour, depth + 1, in_long or flavour == "long")
            if flavour != "long" or in_long:
                return [item]
            # Too many items, the first one long too; the rest plain, to keep the body small.
            return [item] + [self.make(items, "typical", depth + 1)] * 299
        if kind == "string":
            special = {"empty": "", "long": LONG, "nul": "a\x00b😀../../etc/passwd"}
            if flavour in special:
                return special[flavour]
            fmt = schema.get("format")
            return {"uuid": str(uuid.uuid4()), "email": "a@example.com"}.get(fmt or "", "x")
        if kind in ("integer", "number"):
            special = {"empty": 0, "huge": 10**30, "negative": -(10**30)}
            if kind == "number":
                special = {"empty": 0, "huge": 1e308, "negative": -1e308}
            return special.get(flavour, 1)
        if kind == "boolean":
            return True
        return {"long": LONG, "nul": "\x00", "huge": 1e308}.get(flavour, "x")

    def variants(self, operation: dict[str, Any]) -> Iterator[tuple[str, bytes, str]]:
        """(label, raw bytes, content type) for each flavour of the operation's body."""
        content = operation.get("requestBody", {}).get("content", {})
        for media, spec in content.items():
            for flavour in FLAVOURS:
                value = self.make(spec.get("schema", {}), flavour)
                if media == "application/json":
                    raw = json.dumps(value).replace("1e+308", "1e309")
                    yield f"schema:{flavour}", raw.encode(), media
                elif isinstance(value, dict):
                    form = httpx.QueryParams({k: str(v) for k, v in value.items()})
                    yield f"form:{flavour}", str(form).encode(), media

    def typical(self, operation: dict[str, Any]) -> tuple[bytes | None, str | None]:
        for label, raw, media in self.variants(operation):
            if label.endswith(":typical"):
                return raw, media
        return None, None


def shape_problem(path: str, response: httpx.Response) -> str | None:
    """What is wrong with the response, or None."""
    if response.status_code >= 500 and response.status_code not in UPSTREAM_STATUSES:
        return "5xx"
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return "4xx body is not JSON"
    if not isinstance(body, dict):
        return "4xx body is not an object"
    if path.startswith(SMARTFLOW):
        return None if {"status", "info"} <= body.keys() else "not the SmartFlow envelope"
    if not {"error", "message"} <= body.keys():
        return "no error/message"
    if response.status_code == 422 and not isinstance(body.get("details"), list):
        return "422 without details[]"
    return None


class Sweep:
    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str] | None) -> None:
        self.client, self.headers = client, headers or {}
        self.failures: list[str] = []
        self.count = 0

    async def send(
        self,
        method: str,
        url: str,
        label: str,
        *,
        content: bytes | None = None,
        media: str | None = "application/json",
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        sent = dict(headers if headers is not None else self.headers)
        if content is not None and media:
            sent["Content-Type"] = media
        self.count += 1
        try:
            return await asyncio.wait_for(
                self.client.request(method, url, content=content, params=params, headers=sent),
                REQUEST_TIMEOUT_S,
            )
        except TimeoutError:
            self.failures.append(f"{method} {url[:120]} [{label}] timed out")
            return None

    def check(self, method: str, template: str, url: str, label: str, r: httpx.Response) -> None:
        problem = shape_problem(template, r)
        if problem:
            self.failures.append(
                f"{method} {url[:120]} [{label}] -> {r.status_code} {problem}: {r.text[:200]!r}"
            )

    def report(self) -> None:
        assert not self.failures, f"{len(self.failures)} failing requests:\n" + "\n".join(
            self.failures
        )


def test_every_route_is_swept(app: FastAPI) -> None:
    routes = http_routes(app)
    assert len(routes) > 100
    openapi = app.openapi()["paths"]
    # A route hidden from the schema gets no generated body; it must not need one.
    maker = BodyMaker(app.openapi())
    for method, path, ctx in routes:
        if path not in openapi and path != "/docs":
            assert ctx.body_field is None, f"{method} {path}: body but no schema to sweep it"
        if ctx.body_field is not None:
            operation = openapi[path][method.lower()]
            assert list(maker.variants(operation)), f"{method} {path}: body the sweep cannot make"


async def test_bad_input_never_answers_500(
    app: FastAPI, client: httpx.AsyncClient, user_headers: dict[str, str]
) -> None:
    openapi = app.openapi()
    maker = BodyMaker(openapi)
    sweep = Sweep(client, user_headers)
    for method, path, _ in http_routes(app):
        operation = openapi["paths"].get(path, {}).get(method.lower(), {})
        typical, media = maker.typical(operation)
        params = path_params(path)
        # Junk in every path parameter, with an otherwise plausible body.
        for junk in JUNK if params else []:
            url = fill(path, dict.fromkeys(params, junk))
            response = await sweep.send(
                method, url, f"path={junk[:12]!r}", content=typical, media=media
            )
            if response is not None:
                sweep.check(method, path, url, f"path={junk[:12]!r}", response)
        url = fill(path, {})
        bodies: list[tuple[str, bytes | None, str | None]] = [("no-body", None, None)]
        bodies += [(label, raw, "application/json") for label, raw in RAW_BODIES]
        if method in ("POST", "PUT", "PATCH"):
            bodies += list(maker.variants(operation))
        for label, raw, kind in bodies:
            response = await sweep.send(method, url, label, content=raw, media=kind)
            if response is not None:
                sweep.check(method, path, url, label, response)
        query = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
        for junk in JUNK if query else []:
            label = f"query={junk[:12]!r}"
            response = await sweep.send(
                method,
                url,
                label,
                content=typical,
                media=media,
                params=dict.fromkeys(query, junk),
            )
            if response is not None:
                sweep.check(method, path, url, label, response)
    print(f"swept {len(http_routes(app))} routes with {sweep.count} requests")
    assert sweep.count > 1500
    sweep.report()


async def test_every_private_route_needs_a_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    sweep = Sweep(client, None)
    routes = http_routes(app)
    missing = PUBLIC - {(m, p) for m, p, _ in routes}
    assert not missing, f"public routes no longer exist: {missing}"
    for method, path, _ in routes:
        if (method, path) in PUBLIC or path == "/docs":
            continue
        url = fill(path, {})
        for label, headers in (
            ("no token", {}),
            ("bad token", {"Authorization": "Bearer not-a-jwt"}),
        ):
            response = await sweep.send(method, url, label, headers=headers)
            if response is None:
                continue
            if response.status_code != 401:
                sweep.failures.append(
                    f"{method} {url} [{label}] -> {response.status_code}: {response.text[:200]!r}"
                )
            else:
                sweep.check(method, path, url, label, response)
    sweep.report()


def noop_graph() -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "config": {"inputs": [{"name": "n"}]}},
            {"id": "end", "type": "end", "config": {"outputs": {"n": "{{start.n}}"}}},
        ],
        "edges": [{"source": "start", "target": "end"}],
    }


async def _created(client: httpx.AsyncClient, url: str, body: Any, headers: dict[str, str]) -> Any:
    response = await client.post(url, json=body, headers=headers)
    assert response.status_code in (200, 201), f"{url}: {response.text}"
    return response.json()


PLUGIN = {
    "name": "weather",
    "version": "1.0.0",
    "tools": [
        {
            "name": "forecast",
            "description": "The forecast for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            "http": {"method": "GET", "url": "https://api.example.com/forecast/{city}"},
        }
    ],
}
ORCHESTRATION = {
    "name": "desk",
    "mode": "supervisor",
    "roles": [
        {"name": "lead", "agent": {"system_prompt": "Lead."}},
        {"name": "tech", "agent": {"system_prompt": "Fix it."}},
    ],
    "coordinator": "lead",
}


async def _owned_by_alice(
    client: httpx.AsyncClient, headers: dict[str, str], chat_model: dict[str, Any], fake_llm: Any
) -> dict[str, str]:
    """One resource of each main kind, created through the API; path parameter -> id."""
    api = "/api/v1"
    agent = await _created(
        client, f"{api}/agents", {"name": "helper", "system_prompt": "Help."}, headers
    )
    workflow = await _created(
        client, f"{api}/workflows", {"name": "wf", "definition": noop_graph()}, headers
    )
    run = await _created(
        client,
        f"{api}/workflows/{workflow['id']}/execute",
        {"inputs": {"n": 1}, "mode": "sync", "timeout_s": 20},
        headers,
    )
    kb = await _created(client, f"{api}/knowledge-bases", {"name": "kb"}, headers)
    tool = await _created(
        client,
        f"{api}/tools",
        {
            "name": "double",
            "description": "Double a number",
            "kind": "code",
            "input_schema": {"type": "object", "properties": {"n": {"type": "number"}}},
            "code": {"language": "python", "code": "def main(n):\n    return n * 2\n"},
        },
        headers,
    )
    template = await _created(
        client,
        f"{api}/node-templates",
        {"name": "t", "node_type": "llm", "config": {"prompt": "Hi {{start.text}}"}},
        headers,
    )
    schedule = await _created(
        client,
        f"{api}/agent-schedules",
        {"name": "s", "cron": "0 9 * * *", "target_type": "workflow", "target_id": workflow["id"]},
        headers,
    )
    fake_llm.script([{"content": "hello"}])
    chat = await _created(client, f"{api}/agent-chat/bare", {"message": "hi"}, headers)
    goal = await _created(client, f"{api}/goals", {"title": "Ship"}, headers)
    task = await _created(client, f"{api}/tasks", {"goal_id": goal["id"], "title": "t"}, headers)
    rule = await _created(
        client,
        f"{api}/alert-rules",
        {"name": "r", "metric": "llm_calls", "comparator": "gt", "threshold": 5},
        headers,
    )
    source = await _created(
        client,
        f"{api}/data-sources",
        {"name": "api", "type": "api", "config": {"url": "https://api.example.com"}},
        headers,
    )
    upload = await client.post(
        f"{api}/uploads", files={"file": ("a.csv", b"a,b\n1,2\n", "text/csv")}, headers=headers
    )
    assert upload.status_code == 201, upload.text
    plugin = await _created(client, f"{api}/plugins", PLUGIN, headers)
    orchestration = await _created(client, f"{api}/orchestration-templates", ORCHESTRATION, headers)
    # Drafts: only their author sees them.
    agent_listing = await _created(
        client, f"{api}/agent-market", {"source_id": agent["id"], "status": "draft"}, headers
    )
    template_listing = await _created(
        client, f"{api}/template-market", {"source_id": workflow["id"], "status": "draft"}, headers
    )
    return {
        "goal_id": goal["id"],
        "task_id": task["id"],
        "rule_id": rule["id"],
        "source_id": source["id"],
        "upload_id": upload.json()["id"],
        "plugin_id": plugin["id"],
        "/orchestration-templates/{template_id}": orchestration["id"],
        "/agent-market/{listing_id}": agent_listing["id"],
        "/template-market/{listing_id}": template_listing["id"],
        "agent_id": agent["id"],
        "workflow_id": workflow["id"],
        "run_id": run.get("run_id") or run["id"],
        "kb_id": kb["id"],
        "tool_id": tool["id"],
        "config_id": chat_model["id"],
        "/node-templates/{template_id}": template["id"],
        "schedule_id": schedule["id"],
        "conversation_id": chat["session_id"],
        "session_id": chat["session_id"],
    }


def owned_values(path: str, owned: dict[str, str]) -> dict[str, str]:
    """Path parameter -> one of Alice's ids, for the parameters of `path` that name one."""
    if path.startswith("/api/v1/workflows/templates"):
        return {}  # built-in catalogue ids, not user resources
    values = {p: owned[p] for p in path_params(path) if p in owned}
    for key, value in owned.items():
        if key.startswith("/") and key in path:
            values[path_params(key)[0]] = value
    return values


async def test_bad_bodies_on_real_resources_never_answer_500(
    app: FastAPI,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    """The same junk, sent to Alice's own resources, so it gets past the lookup."""
    owned = await _owned_by_alice(client, user_headers, chat_model, fake_llm)
    fake_llm.script([{"content": "ok"}] * 50)
    openapi = app.openapi()
    maker = BodyMaker(openapi)
    sweep = Sweep(client, user_headers)
    for method, path, _ in http_routes(app):
        values = owned_values(path, owned)
        if not values or method not in ("POST", "PUT", "PATCH") or (method, path) in PUBLIC:
            continue
        operation = openapi["paths"].get(path, {}).get(method.lower(), {})
        url = fill(path, {**PLAIN_PARAMS, **values})
        bodies: list[tuple[str, bytes | None, str | None]] = [("no-body", None, None)]
        bodies += [(label, raw, "application/json") for label, raw in RAW_BODIES]
        bodies += list(maker.variants(operation))
        for label, raw, kind in bodies:
            response = await sweep.send(method, url, label, content=raw, media=kind)
            if response is not None:
                sweep.check(method, path, url, label, response)
    print(f"swept Alice's resources with {sweep.count} requests")
    assert sweep.count > 300
    sweep.report()


async def test_another_users_resources_are_404(
    app: FastAPI,
    client: httpx.AsyncClient,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    chat_model: dict[str, Any],
    fake_llm: Any,
) -> None:
    owned = await _owned_by_alice(client, user_headers, chat_model, fake_llm)
    openapi = app.openapi()
    maker = BodyMaker(openapi)
    sweep = Sweep(client, other_headers)
    checked = 0
    for method, path, _ in http_routes(app):
        operation = openapi["paths"].get(path, {}).get(method.lower(), {})
        values = owned_values(path, owned)
        query = {
            p["name"]: owned[p["name"]]
            for p in operation.get("parameters", [])
            if p.get("in") == "query" and p["name"] in ("conversation_id", "session_id")
        }
        if (not values and not query) or (method, path) in PUBLIC:
            continue
        checked += 1
        typical, media = maker.typical(operation)
        url = fill(path, {**PLAIN_PARAMS, **values})
        response = await sweep.send(
            method, url, "as bob", content=typical, media=media, params=query or None
        )
        if response is None:
            continue
        status = response.status_code
        smartflow_unknown = (
            path.startswith(SMARTFLOW)
            and status == 400
            and response.json().get("status") in ("40004", "40400")
        )
        body_422 = status == 422 and all(
            d.get("field", "").startswith("body") for d in response.json().get("details") or []
        )
        # A list filtered by Alice's id may answer, as long as it shows Bob nothing of hers.
        empty_list = (
            not values and status == 200 and not any(v in response.text for v in owned.values())
        )
        if status != 404 and not (smartflow_unknown or body_422 or empty_list):
            sweep.failures.append(f"{method} {url} [as bob] -> {status}: {response.text[:200]!r}")
        else:
            sweep.check(method, path, url, "as bob", response)
    assert checked > 40
    # Bob's own empty lists never show Alice's rows.
    for url in ("/api/v1/agents", "/api/v1/workflows", "/api/v1/knowledge-bases", "/api/v1/tools"):
        listed = (await client.get(url, headers=other_headers)).text
        leaked = [k for k, v in owned.items() if v in listed]
        if leaked:
            sweep.failures.append(f"GET {url} as bob lists alice's {leaked}")
    sweep.report()
