"""Web tools against a real HTTP server on 127.0.0.1, through the real SafeHttpClient."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.net import SafeHttpClient
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool

PAGE = """<!doctype html>
<html><head><title> Tiny  Test Page </title>
<style>body { color: red; }</style>
<script>var secret = "do not show";</script></head>
<body>
<nav><a href="/home">Home nav</a></nav>
<h1>Main heading</h1>
<p>First <b>bold</b> paragraph.<br>Second line.</p>
<ul><li>alpha</li><li>beta</li></ul>
<p>See <a href="/docs/intro#part2">the intro</a>, <a href="https://example.org/x">elsewhere</a>,
<a href="docs/intro">again</a>, <a href="mailto:a@b.c">mail</a>, <a href="#top">top</a>
and <a href="javascript:void(0)">js</a>. <a href="/img"><img src="/i.png" alt="A picture"></a></p>
<noscript>enable js</noscript>
</body></html>"""


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def redirect(request: Request) -> Response:
    return RedirectResponse("/page.html", status_code=302)


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "query": dict(request.query_params),
            "body": body.decode(),
            "content_type": request.headers.get("content-type"),
            "x_token": request.headers.get("x-token"),
        },
        headers={"set-cookie": "session=secret", "etag": '"v1"'},
    )


async def plain(request: Request) -> Response:
    return Response("just text\nline two", media_type="text/plain")


async def image(request: Request) -> Response:
    return Response(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)), media_type="image/png")


async def broken(request: Request) -> Response:
    return HTMLResponse("<h1>Internal oops</h1>", status_code=500)


async def long_text(request: Request) -> Response:
    return Response("x" * 5000, media_type="text/plain")


async def gbk_page(request: Request) -> Response:
    html = '<html><head><meta charset="gbk"><title>中文</title></head><body><p>你好，世界</p>'
    return Response(html.encode("gbk"), headers={"content-type": "text/html"})


async def api_error(request: Request) -> Response:
    return JSONResponse({"error": "bad input"}, status_code=422)


def app() -> Starlette:
    return Starlette(
        routes=[
            Route("/page.html", page),
            Route("/redirect", redirect),
            Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/plain.txt", plain),
            Route("/image.png", image),
            Route("/broken", broken),
            Route("/long", long_text),
            Route("/api-error", api_error, methods=["POST"]),
            Route("/gbk", gbk_page),
        ]
    )


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app(), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        assert time.monotonic() < deadline, "test server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


class NoNetwork(httpcore.AsyncNetworkBackend):
    """Fails any connection, so a test of blocked URLs can never send a packet anywhere."""

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a connection to {host}:{port} was attempted")

    async def connect_unix_socket(self, path: str, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a unix socket connection was attempted")

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("unexpected sleep")


@pytest.fixture
def ctx() -> ToolContext:
    return ToolContext(http=SafeHttpClient(allowlist=["127.0.0.1/32"]))


async def call(name: str, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, name
    return await run_tool(tool, args, ctx)


# --- http_request ---


async def test_http_request_sends_query_headers_and_json(base_url: str, ctx: ToolContext) -> None:
    result = await call(
        "http_request",
        {
            "method": "POST",
            "url": f"{base_url}/echo",
            "query": {"q": "tiangong", "page": 2},
            "headers": {"X-Token": "t0k"},
            "json_body": {"hello": "世界"},
        },
        ctx,
    )
    assert result["status"] == 200
    assert result["url"].startswith(f"{base_url}/echo?")
    echoed = result["json_data"]
    assert echoed["method"] == "POST"
    assert echoed["query"] == {"q": "tiangong", "page": "2"}
    assert echoed["x_token"] == "t0k"
    assert echoed["content_type"] == "application/json"
    assert '"hello"' in echoed["body"]
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["etag"] == '"v1"'
    assert "set-cookie" not in result["headers"]
    assert result["binary"] is False
    assert result["truncated"] is False


async def test_http_request_text_body_truncation_and_binary(
    base_url: str, ctx: ToolContext
) -> None:
    sent = await call(
        "http_request",
        {"method": "PUT", "url": f"{base_url}/echo", "text_body": "raw words"},
        ctx,
    )
    assert sent["json_data"]["body"] == "raw words"

    cut = await call("http_request", {"url": f"{base_url}/long", "max_chars": 100}, ctx)
    assert cut["body"] == "x" * 100
    assert cut["truncated"] is True
    assert cut["size_bytes"] == 5000
    assert cut["json_data"] is None

    picture = await call("http_request", {"url": f"{base_url}/image.png"}, ctx)
    assert picture["binary"] is True
    assert picture["body"] == ""

    failed = await call("http_request", {"url": f"{base_url}/broken"}, ctx)
    assert failed["status"] == 500
    assert "Internal oops" in failed["body"]


async def test_http_request_rejects_bad_input(base_url: str, ctx: ToolContext) -> None:
    bad: list[dict[str, Any]] = [
        {"url": "ftp://example.com/file"},
        {"url": "not a url"},
        {"url": f"{base_url}/echo", "method": "TRACE"},
        {"url": f"{base_url}/echo", "timeout_s": 61},
        {"url": f"{base_url}/echo", "json_body": {"a": 1}, "text_body": "both"},
    ]
    for args in bad:
        with pytest.raises(ToolInputError):
            await call("http_request", args, ctx)


async def test_blocked_urls_surface_as_clear_tool_errors(base_url: str) -> None:
    guarded = ToolContext(http=SafeHttpClient(allowlist=[], network_backend=NoNetwork()))
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", base_url):
        with pytest.raises(ToolError) as caught:
            await call("http_request", {"url": url}, guarded)
        assert caught.value.code == "URL_BLOCKED"
        assert url.rstrip("/") in caught.value.message
    with pytest.raises(ToolError) as caught:
        await call("fetch_url_text", {"url": "http://169.254.169.254/"}, guarded)
    assert caught.value.code == "URL_BLOCKED"


async def test_web_tools_need_an_http_client() -> None:
    with pytest.raises(ToolError, match="not available here"):
        await call("http_request", {"url": "https://example.com/"}, ToolContext())


# --- fetch_url_text / fetch_url_markdown ---


async def test_fetch_url_text_follows_redirects_and_drops_noise(
    base_url: str, ctx: ToolContext
) -> None:
    result = await call("fetch_url_text", {"url": f"{base_url}/redirect"}, ctx)
    assert result["url"] == f"{base_url}/page.html"
    assert result["title"] == "Tiny Test Page"
    assert result["content_type"] == "text/html"
    text = result["text"]
    assert text.startswith("Main heading")
    assert "First bold paragraph.\nSecond line." in text
    assert "alpha\n" in text and "beta" in text
    for hidden in ("secret", "color: red", "Home nav", "enable js", "Tiny Test Page"):
        assert hidden not in text
    assert result["truncated"] is False


async def test_fetch_url_text_reads_the_pages_own_charset(base_url: str, ctx: ToolContext) -> None:
    result = await call("fetch_url_text", {"url": f"{base_url}/gbk"}, ctx)
    assert (result["title"], result["text"]) == ("中文", "你好，世界")


async def test_fetch_url_text_returns_plain_text_and_refuses_binary(
    base_url: str, ctx: ToolContext
) -> None:
    plain_text = await call("fetch_url_text", {"url": f"{base_url}/plain.txt"}, ctx)
    assert plain_text["text"] == "just text\nline two"
    assert plain_text["title"] is None
    with pytest.raises(ToolError, match="binary content"):
        await call("fetch_url_text", {"url": f"{base_url}/image.png"}, ctx)
    with pytest.raises(ToolError, match="HTTP 500: Internal oops"):
        await call("fetch_url_text", {"url": f"{base_url}/broken"}, ctx)
    with pytest.raises(ToolError, match="HTTP 404"):
        await call("fetch_url_text", {"url": f"{base_url}/missing"}, ctx)
    with pytest.raises(ToolInputError):
        await call("fetch_url_text", {"url": f"{base_url}/page.html", "max_chars": 10}, ctx)


async def test_fetch_url_markdown_converts_structure_and_links(
    base_url: str, ctx: ToolContext
) -> None:
    result = await call("fetch_url_markdown", {"url": f"{base_url}/page.html"}, ctx)
    assert result["title"] == "Tiny Test Page"
    markdown = result["markdown"]
    assert markdown.startswith("# Main heading")
    assert "**bold**" in markdown
    assert "- alpha" in markdown
    assert f"[the intro]({base_url}/docs/intro#part2)" in markdown
    assert "secret" not in markdown and "Home nav" not in markdown

    cut = await call("fetch_url_markdown", {"url": f"{base_url}/long", "max_chars": 100}, ctx)
    assert cut["markdown"] == "x" * 100
    assert cut["truncated"] is True


async def test_fetch_url_markdown_rejects_bad_input(base_url: str, ctx: ToolContext) -> None:
    with pytest.raises(ToolInputError):
        await call("fetch_url_markdown", {"url": "file:///etc/passwd"}, ctx)
    with pytest.raises(ToolError, match="binary content"):
        await call("fetch_url_markdown", {"url": f"{base_url}/image.png"}, ctx)


# --- call_json_api ---


async def test_call_json_api_round_trips_json(base_url: str, ctx: ToolContext) -> None:
    result = await call(
        "call_json_api", {"url": f"{base_url}/echo", "body": {"items": [1, 2]}}, ctx
    )
    assert result["status"] == 200
    assert result["ok"] is True
    assert result["data"]["method"] == "POST"
    assert json.loads(result["data"]["body"]) == {"items": [1, 2]}
    assert result["data"]["content_type"] == "application/json"

    failed = await call("call_json_api", {"url": f"{base_url}/api-error", "body": {}}, ctx)
    assert (failed["status"], failed["ok"], failed["data"]) == (422, False, {"error": "bad input"})


async def test_call_json_api_reports_non_json_answers(base_url: str, ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match=r"HTTP 500 with a non-JSON body \(text/html\): "):
        await call("call_json_api", {"method": "GET", "url": f"{base_url}/broken"}, ctx)
    with pytest.raises(ToolError, match="HTTP 200.*just text"):
        await call("call_json_api", {"method": "GET", "url": f"{base_url}/plain.txt"}, ctx)
    with pytest.raises(ToolInputError):
        await call("call_json_api", {"method": "BREW", "url": f"{base_url}/echo"}, ctx)


# --- extract_links ---


async def test_extract_links_from_a_fetched_page(base_url: str, ctx: ToolContext) -> None:
    result = await call("extract_links", {"url": f"{base_url}/page.html"}, ctx)
    assert result["base_url"] == f"{base_url}/page.html"
    assert result["links"] == [
        {"url": f"{base_url}/home", "text": "Home nav"},
        {"url": f"{base_url}/docs/intro", "text": "the intro"},
        {"url": "https://example.org/x", "text": "elsewhere"},
        {"url": f"{base_url}/img", "text": "A picture"},
    ]
    same = await call(
        "extract_links", {"url": f"{base_url}/page.html", "same_domain": True, "max_links": 2}, ctx
    )
    assert [link["url"] for link in same["links"]] == [f"{base_url}/home", f"{base_url}/docs/intro"]
    assert same["total"] == 3
    assert same["truncated"] is True


async def test_extract_links_from_given_html_needs_no_network() -> None:
    html = '<base href="https://site.test/a/"><a href="b">B</a><a href="/c" title="C page"></a>'
    result = await call(
        "extract_links", {"html": html, "base_url": "https://ignored.test/"}, ToolContext()
    )
    assert result["links"] == [
        {"url": "https://site.test/a/b", "text": "B"},
        {"url": "https://site.test/c", "text": "C page"},
    ]
    bare = await call("extract_links", {"html": html.split(">", 1)[1]}, ToolContext())
    assert bare["links"] == []


async def test_extract_links_rejects_bad_input() -> None:
    with pytest.raises(ToolInputError, match="exactly one of url or html"):
        await call("extract_links", {}, ToolContext())
    with pytest.raises(ToolInputError, match="exactly one of url or html"):
        await call("extract_links", {"url": "https://a.test/", "html": "<a>"}, ToolContext())
    with pytest.raises(ToolInputError, match="same_domain"):
        await call(
            "extract_links", {"html": "<a href='/x'>x</a>", "same_domain": True}, ToolContext()
        )


# --- url_parse ---


async def test_url_parse_splits_a_url_without_network() -> None:
    result = await call(
        "url_parse",
        {"url": "HTTPS://user:pw@Example.COM/a/b?x=1&y=2&y=3&empty=#frag"},
        ToolContext(),
    )
    assert result == {
        "scheme": "https",
        "host": "example.com",
        "port": 443,
        "path": "/a/b",
        "query": {"x": "1", "y": ["2", "3"], "empty": ""},
        "fragment": "frag",
        "username": "user",
        "has_password": True,
    }
    explicit = await call("url_parse", {"url": "http://127.0.0.1:8080"}, ToolContext())
    assert explicit["port"] == 8080
    assert explicit["path"] == ""


async def test_url_parse_rejects_bad_urls() -> None:
    with pytest.raises(ToolInputError, match="Not a valid URL"):
        await call("url_parse", {"url": "http://host:99999/"}, ToolContext())
    with pytest.raises(ToolInputError):
        await call("url_parse", {"url": ""}, ToolContext())
