"""Custom HTTP tools: a request template filled from the call's arguments."""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from tiangong.runtime.tools.base import JsonResult, SchemaTool, ToolError
from tiangong.runtime.tools.context import ToolContext

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_BODY_CHARS = 50_000


class HttpAuth(BaseModel):
    type: Literal["none", "api_key", "bearer", "basic"] = "none"
    # api_key: where the key goes and under which name.
    location: Literal["header", "query"] = "header"
    name: str = Field(default="X-API-Key", max_length=100)
    username: str | None = Field(default=None, max_length=200)


class HttpToolConfig(BaseModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    # "https://api.example.com/users/{user_id}": placeholders are argument names.
    url: str = Field(min_length=1, max_length=2000)
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    # A JSON template; string leaves that are exactly "{name}" take the argument's value as is.
    body: Any = None
    # Arguments routed by name (OpenAPI imports use these); absent optional ones are skipped.
    query_args: list[str] = Field(default_factory=list)
    header_args: list[str] = Field(default_factory=list)
    body_arg: str | None = None
    # Arguments used nowhere else go into the query (GET) or the JSON body (others).
    pass_unused: bool = True
    auth: HttpAuth = Field(default_factory=HttpAuth)
    timeout_s: float = Field(default=30, gt=0, le=120)


def _fill(template: str, args: dict[str, Any], used: set[str], *, url_part: bool) -> str:
    def repl(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in args:
            raise ToolError(f"Missing argument '{key}' for the request template")
        used.add(key)
        value = args[key]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return quote(text, safe="") if url_part else text

    return _PLACEHOLDER.sub(repl, template)


def _fill_json(template: Any, args: dict[str, Any], used: set[str]) -> Any:
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole and whole.group(1) in args:
            used.add(whole.group(1))
            return args[whole.group(1)]
        return _fill(template, args, used, url_part=False)
    if isinstance(template, list):
        return [_fill_json(item, args, used) for item in template]
    if isinstance(template, dict):
        return {key: _fill_json(value, args, used) for key, value in template.items()}
    return template


def _scrub(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, "****")
    if isinstance(value, list):
        return [_scrub(item, secret) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, secret) for key, item in value.items()}
    return value


class HttpTool(SchemaTool):
    def __init__(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        config: HttpToolConfig,
        *,
        secret: str | None = None,
        requires_approval: bool = False,
        category: str = "custom",
    ) -> None:
        super().__init__(
            name, description, category, parameters, requires_approval=requires_approval
        )
        self.config = config
        self._secret = secret

    def build_request(self, args: dict[str, Any]) -> dict[str, Any]:
        cfg, used = self.config, set[str]()
        url = _fill(cfg.url, args, used, url_part=True)
        headers = {k: _fill(v, args, used, url_part=False) for k, v in cfg.headers.items()}
        query: dict[str, Any] = {
            k: _fill(v, args, used, url_part=False) for k, v in cfg.query.items()
        }
        body = _fill_json(cfg.body, args, used) if cfg.body is not None else None
        for key in (k for k in cfg.query_args if k in args):
            query[key] = args[key]
            used.add(key)
        for key in (k for k in cfg.header_args if k in args):
            headers[key] = str(args[key])
            used.add(key)
        if cfg.body_arg and cfg.body_arg in args:
            body = args[cfg.body_arg]
            used.add(cfg.body_arg)
        unused = {k: v for k, v in args.items() if k not in used}
        if cfg.pass_unused and unused:
            if cfg.method in ("GET", "HEAD", "DELETE"):
                query.update(unused)
            elif body is None or isinstance(body, dict):
                body = {**(body or {}), **unused}
        self._authorise(headers, query)
        return {"method": cfg.method, "url": url, "headers": headers, "params": query, "json": body}

    def _authorise(self, headers: dict[str, str], query: dict[str, Any]) -> None:
        auth = self.config.auth
        if auth.type == "none":
            return
        if not self._secret:
            raise ToolError(f"{self.name} needs a credential and none is stored")
        if auth.type == "bearer":
            headers["Authorization"] = f"Bearer {self._secret}"
        elif auth.type == "basic":
            pair = f"{auth.username or ''}:{self._secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif auth.location == "header":
            headers[auth.name] = self._secret
        else:
            query[auth.name] = self._secret

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> JsonResult:
        if ctx.http is None:
            raise ToolError("Outbound HTTP is not available here")
        request = self.build_request(args)
        response = await ctx.http.request(
            request["method"],
            request["url"],
            headers=request["headers"],
            params=request["params"],
            json=request["json"],
            timeout_s=self.config.timeout_s,
        )
        text = response.text
        try:
            body: Any = json.loads(text) if text.strip() else None
        except ValueError:
            body = text[:MAX_BODY_CHARS]
        result = {"status": response.status, "ok": 200 <= response.status < 400, "body": body}
        if self._secret:
            # Never hand the credential back, even if the server echoes it.
            result = json.loads(
                json.dumps(result, ensure_ascii=False).replace(self._secret, "****")
            )
        return JsonResult(result=result)
