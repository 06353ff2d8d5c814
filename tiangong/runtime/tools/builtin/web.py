"""Builtin tools: web. Every request goes through `ctx.http`, which decides what may be reached."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urldefrag, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter
from pydantic import AfterValidator, BaseModel, Field, model_validator

from tiangong.errors import AppError
from tiangong.runtime.tools.base import Tool, ToolError, ToolInputError
from tiangong.runtime.tools.context import HttpFetcher, HttpResult, ToolContext
from tiangong.runtime.tools.registry import builtin_tool

# Bytes read from the network per call; page text is cut to the caller's max_chars after that.
MAX_RESPONSE_BYTES = 5 * 1024 * 1024
MAX_HTML_INPUT_CHARS = 2_000_000
SNIPPET_CHARS = 300

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

# Response headers worth showing the model; the rest (cookies, tracing ids) are noise or secret.
_SHOWN_HEADERS = (
    "content-type",
    "content-length",
    "content-language",
    "content-disposition",
    "location",
    "last-modified",
    "etag",
    "cache-control",
    "retry-after",
    "date",
)
# Removed before turning a page into text or markdown: never part of what a reader sees.
_NOISE_TAGS = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "nav")
# Block elements: paragraph-like ones are set off by a blank line, the others by a line break.
_PARAGRAPH_TAGS = (
    "address",
    "article",
    "aside",
    "blockquote",
    "dl",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "ul",
)
_LINE_TAGS = ("dd", "div", "dt", "figcaption", "li", "tr")
# Placeholders for breaks while the text is assembled; all other whitespace is collapsed.
_LINE, _PARAGRAPH = "\x01", "\x02"
_BREAKS = re.compile(r" *[\x01\x02][\x01\x02 ]*")
_TEXT_TYPES = (
    "application/json",
    "application/xml",
    "application/javascript",
    "application/ecmascript",
    "application/x-javascript",
    "application/x-www-form-urlencoded",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/x-ndjson",
    "application/csv",
)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_SPACES = re.compile(r"[ \t\n\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _check_http_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must include a host name")
    return url


HttpUrlText = Annotated[
    str,
    Field(min_length=1, max_length=4096, description="Absolute http:// or https:// URL."),
    AfterValidator(_check_http_url),
]
Timeout = Annotated[
    float, Field(gt=0, le=60, description="Seconds to wait for the response (at most 60).")
]
MaxChars = Annotated[
    int,
    Field(
        ge=100,
        le=200_000,
        description="Longest text returned, in characters; longer text is cut and `truncated` "
        "is set.",
    ),
]
QueryParams = Annotated[
    dict[str, str | int | float | bool | list[str]],
    Field(max_length=100, description="Query-string parameters added to the URL."),
]
RequestHeaders = Annotated[
    dict[str, str],
    Field(max_length=50, description='Request headers, e.g. {"Authorization": "Bearer ..."}.'),
]


def _http(ctx: ToolContext) -> HttpFetcher:
    if ctx.http is None:
        raise ToolError("Web access is not available here.")
    return ctx.http


async def _request(
    ctx: ToolContext,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
    content: str | None = None,
    timeout_s: float,
) -> HttpResult:
    http = _http(ctx)
    try:
        return await http.request(
            method,
            url,
            headers=headers or None,
            params=params or None,
            json=json_body,
            content=content,
            timeout_s=timeout_s,
            max_bytes=MAX_RESPONSE_BYTES,
        )
    except ToolError:
        raise
    except AppError as exc:
        # Keep the fetcher's code (e.g. a blocked address) so callers can tell failures apart.
        raise ToolError(
            f"{method} {url} failed: {exc.message}", code=exc.code, status=exc.status
        ) from exc
    except TimeoutError as exc:
        raise ToolError(f"{method} {url} timed out after {timeout_s:g} s.") from exc
    except Exception as exc:
        raise ToolError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc


def _media_type(headers: Mapping[str, str]) -> str:
    for key, value in headers.items():
        if key.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return ""


def _is_html(result: HttpResult) -> bool:
    media = _media_type(result.headers)
    if media:
        return media in _HTML_TYPES
    head = result.content[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _is_text(result: HttpResult) -> bool:
    media = _media_type(result.headers)
    if b"\x00" in result.content[:4096]:
        return False
    if not media:
        try:
            result.content[:4096].decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the 4096-byte boundary is still text.
            return exc.start >= 4090
        return True
    return (
        media.startswith("text/")
        or media in _TEXT_TYPES
        or media.endswith(("+json", "+xml"))
        or media in _HTML_TYPES
    )


def _is_json(result: HttpResult) -> bool:
    media = _media_type(result.headers)
    return media == "application/json" or media.endswith("+json")


def _shown_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name] for name in _SHOWN_HEADERS if name in lowered}


def _cut(text: str, max_chars: int) -> tuple[str, bool]:
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars], True


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "..."


def _require_ok(result: HttpResult, method: str, url: str) -> None:
    if 200 <= result.status < 300:
        return
    detail = ""
    if result.content and _is_text(result):
        body = _readable_text(_page_soup(result)) if _is_html(result) else _text(result)
        detail = f": {_snippet(body)}"
    raise ToolError(f"{method} {url} returned HTTP {result.status}{detail}")


def _require_text(result: HttpResult, url: str) -> None:
    if not _is_text(result):
        media = _media_type(result.headers) or "unknown type"
        raise ToolError(
            f"{url} returned binary content ({media}, {len(result.content)} bytes), not text."
        )


def _text(result: HttpResult) -> str:
    try:
        return result.text
    except LookupError:  # the server named a charset Python does not know
        return result.content.decode("utf-8", errors="replace")


def _declares_charset(headers: Mapping[str, str]) -> bool:
    for key, value in headers.items():
        if key.lower() == "content-type":
            return "charset=" in value.lower()
    return False


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def _page_soup(result: HttpResult) -> BeautifulSoup:
    """Without a charset in the headers, bs4 reads the page's own <meta charset> (GBK pages)."""
    if _declares_charset(result.headers):
        return _soup(_text(result))
    return BeautifulSoup(result.content, "html.parser")


def _title(soup: BeautifulSoup) -> str | None:
    if soup.title is None:
        return None
    title = " ".join(soup.title.get_text().split())
    return title or None


def _drop_noise(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(_NOISE_TAGS):
        tag.decompose()
    if soup.head is not None:
        soup.head.decompose()


def _readable_text(soup: BeautifulSoup) -> str:
    _drop_noise(soup)
    for pre in soup.find_all("pre"):
        pre.string = pre.get_text().replace("\n", _LINE)
    for br in soup.find_all("br"):
        br.replace_with(_LINE)
    for cell in soup.find_all(("td", "th")):
        cell.insert_after(" ")
    for tag in soup.find_all(_LINE_TAGS):
        tag.insert_before(_LINE + ("- " if tag.name == "li" else ""))
        tag.insert_after(_LINE)
    for tag in soup.find_all(_PARAGRAPH_TAGS):
        tag.insert_before(_PARAGRAPH)
        tag.insert_after(_PARAGRAPH)
    # Source line breaks are plain spaces in HTML; only the placeholders make lines.
    text = _SPACES.sub(" ", soup.get_text())
    text = _BREAKS.sub(lambda m: "\n\n" if _PARAGRAPH in m.group() else "\n", text)
    return text.strip()


def _absolutise(soup: BeautifulSoup, base_url: str) -> None:
    for tag, attr in (("a", "href"), ("img", "src")):
        for node in soup.find_all(tag):
            value = node.get(attr)
            if isinstance(value, str) and value.strip():
                node[attr] = urljoin(base_url, value.strip())


def _markdown(soup: BeautifulSoup, base_url: str) -> str:
    _drop_noise(soup)
    _absolutise(soup, base_url)
    converter = MarkdownConverter(heading_style="ATX", bullets="-")
    text = converter.convert_soup(soup.body or soup)
    lines = (line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# --- http_request ---------------------------------------------------------------------------


class HttpRequestInput(BaseModel):
    method: Method = Field(default="GET", description="HTTP method.")
    url: HttpUrlText
    headers: RequestHeaders = Field(default_factory=dict)
    query: QueryParams = Field(default_factory=dict)
    json_body: Any = Field(
        default=None, description="JSON value sent as the body (sets Content-Type: JSON)."
    )
    text_body: str | None = Field(
        default=None, max_length=1_000_000, description="Raw text sent as the body."
    )
    timeout_s: Timeout = 30.0
    max_chars: MaxChars = 20_000

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequestInput:
        if self.json_body is not None and self.text_body is not None:
            raise ValueError("give json_body or text_body, not both")
        return self


class HttpRequestOutput(BaseModel):
    status: int = Field(description="HTTP status code.")
    url: str = Field(description="Final URL after redirects.")
    headers: dict[str, str] = Field(description="Selected response headers, lower-cased.")
    body: str = Field(description="Response body as text; empty for binary content.")
    truncated: bool = Field(description="True when `body` was cut to max_chars.")
    binary: bool = Field(description="True when the body is binary and not shown.")
    size_bytes: int = Field(description="Size of the response body in bytes.")
    json_data: Any = Field(
        default=None, description="The parsed body when the response is JSON, else null."
    )
    elapsed_ms: float


@builtin_tool
class HttpRequest(Tool):
    name = "http_request"
    description = (
        "Send one HTTP request to a public http(s) URL and return the status, selected headers "
        "and the body as text (cut to max_chars, with `truncated` set). JSON responses are also "
        "returned parsed in `json_data`. Send a body with json_body or text_body (not both). "
        "Any status is returned, not treated as an error; private and internal addresses are "
        "refused."
    )
    category = "web"
    Input = HttpRequestInput
    Output = HttpRequestOutput

    async def run(self, args: HttpRequestInput, ctx: ToolContext) -> HttpRequestOutput:
        result = await _request(
            ctx,
            args.method,
            args.url,
            headers=args.headers,
            params=args.query,
            json_body=args.json_body,
            content=args.text_body,
            timeout_s=args.timeout_s,
        )
        binary = bool(result.content) and not _is_text(result)
        text = "" if binary else _text(result)
        json_data: Any = None
        if _is_json(result) and text.strip():
            try:
                json_data = json.loads(text)
            except ValueError:
                json_data = None
        body, truncated = _cut(text, args.max_chars)
        return HttpRequestOutput(
            status=result.status,
            url=result.url,
            headers=_shown_headers(result.headers),
            body=body,
            truncated=truncated,
            binary=binary,
            size_bytes=len(result.content),
            json_data=json_data,
            elapsed_ms=result.elapsed_ms,
        )


# --- fetch_url_text / fetch_url_markdown ----------------------------------------------------


class FetchInput(BaseModel):
    url: HttpUrlText
    timeout_s: Timeout = 20.0
    max_chars: MaxChars = 20_000


class FetchTextOutput(BaseModel):
    url: str = Field(description="Final URL after redirects.")
    status: int
    content_type: str = Field(description="Media type of the response, e.g. text/html.")
    title: str | None = Field(description="The page's <title>, if it is HTML and has one.")
    text: str = Field(description="Readable text of the page.")
    truncated: bool = Field(description="True when `text` was cut to max_chars.")


async def _fetch_page(ctx: ToolContext, args: FetchInput) -> HttpResult:
    result = await _request(
        ctx,
        "GET",
        args.url,
        headers={"Accept": "text/html, text/*;q=0.9, */*;q=0.5"},
        timeout_s=args.timeout_s,
    )
    _require_ok(result, "GET", args.url)
    _require_text(result, args.url)
    return result


@builtin_tool
class FetchUrlText(Tool):
    name = "fetch_url_text"
    description = (
        "Fetch a web page with GET and return its readable plain text: scripts, styles and "
        "navigation are removed and the page title is returned separately. Plain-text, JSON "
        "and other text responses are returned as they are; binary files (images, PDF, zip) "
        "are refused. Non-2xx statuses are errors."
    )
    category = "web"
    Input = FetchInput
    Output = FetchTextOutput

    async def run(self, args: FetchInput, ctx: ToolContext) -> FetchTextOutput:
        result = await _fetch_page(ctx, args)
        title: str | None = None
        if _is_html(result):
            soup = _page_soup(result)
            title = _title(soup)
            page = _readable_text(soup)
        else:
            page = _text(result)
        text, truncated = _cut(page, args.max_chars)
        return FetchTextOutput(
            url=result.url,
            status=result.status,
            content_type=_media_type(result.headers),
            title=title,
            text=text,
            truncated=truncated,
        )


class FetchMarkdownOutput(BaseModel):
    url: str = Field(description="Final URL after redirects.")
    status: int
    content_type: str = Field(description="Media type of the response, e.g. text/html.")
    title: str | None = Field(description="The page's <title>, if it is HTML and has one.")
    markdown: str = Field(description="The page as Markdown, with absolute link URLs.")
    truncated: bool = Field(description="True when `markdown` was cut to max_chars.")


@builtin_tool
class FetchUrlMarkdown(Tool):
    name = "fetch_url_markdown"
    description = (
        "Fetch a web page with GET and convert it to Markdown, keeping headings, lists, links "
        "(made absolute), tables and code blocks; scripts, styles and navigation are removed. "
        "Returns the page title separately. Non-HTML text is returned as it is; binary files "
        "are refused. Non-2xx statuses are errors."
    )
    category = "web"
    Input = FetchInput
    Output = FetchMarkdownOutput

    async def run(self, args: FetchInput, ctx: ToolContext) -> FetchMarkdownOutput:
        result = await _fetch_page(ctx, args)
        title: str | None = None
        if _is_html(result):
            soup = _page_soup(result)
            title = _title(soup)
            page = _markdown(soup, result.url)
        else:
            page = _text(result)
        markdown, truncated = _cut(page, args.max_chars)
        return FetchMarkdownOutput(
            url=result.url,
            status=result.status,
            content_type=_media_type(result.headers),
            title=title,
            markdown=markdown,
            truncated=truncated,
        )


# --- call_json_api --------------------------------------------------------------------------


class CallJsonApiInput(BaseModel):
    method: Method = Field(default="POST", description="HTTP method.")
    url: HttpUrlText
    body: Any = Field(default=None, description="JSON value sent as the request body, if any.")
    headers: RequestHeaders = Field(default_factory=dict)
    query: QueryParams = Field(default_factory=dict)
    timeout_s: Timeout = 30.0


class CallJsonApiOutput(BaseModel):
    status: int = Field(description="HTTP status code.")
    ok: bool = Field(description="True for a 2xx status.")
    url: str = Field(description="Final URL after redirects.")
    data: Any = Field(description="The parsed JSON response; null for an empty body.")
    elapsed_ms: float


@builtin_tool
class CallJsonApi(Tool):
    name = "call_json_api"
    description = (
        "Call a JSON HTTP API: send `body` as JSON with the given method and return the parsed "
        "JSON response in `data`, with the status and `ok` (2xx). Error statuses with a JSON "
        "body are returned, not raised, so the API's error message can be read. A response "
        "that is not JSON is an error that quotes the status and the start of the body."
    )
    category = "web"
    Input = CallJsonApiInput
    Output = CallJsonApiOutput

    async def run(self, args: CallJsonApiInput, ctx: ToolContext) -> CallJsonApiOutput:
        headers = {"Accept": "application/json", **args.headers}
        result = await _request(
            ctx,
            args.method,
            args.url,
            headers=headers,
            params=args.query,
            json_body=args.body,
            timeout_s=args.timeout_s,
        )
        text = _text(result) if _is_text(result) else ""
        data: Any = None
        if result.content:
            try:
                data = json.loads(text)
            except ValueError:
                media = _media_type(result.headers) or "no content type"
                shown = _snippet(text) if text else f"<{len(result.content)} bytes of binary>"
                raise ToolError(
                    f"{args.method} {args.url} returned HTTP {result.status} with a non-JSON "
                    f"body ({media}): {shown}"
                ) from None
        return CallJsonApiOutput(
            status=result.status,
            ok=200 <= result.status < 300,
            url=result.url,
            data=data,
            elapsed_ms=result.elapsed_ms,
        )


# --- extract_links --------------------------------------------------------------------------


class ExtractLinksInput(BaseModel):
    url: HttpUrlText | None = Field(
        default=None, description="Page to fetch with GET. Give url or html, not both."
    )
    html: str | None = Field(
        default=None,
        max_length=MAX_HTML_INPUT_CHARS,
        description="HTML to read instead of fetching a page.",
    )
    base_url: HttpUrlText | None = Field(
        default=None,
        description="With html: the page's URL, used to resolve relative links. Without it, "
        "relative links in given html are skipped.",
    )
    same_domain: bool = Field(
        default=False, description="Only return links to the same host as the page."
    )
    max_links: int = Field(default=200, ge=1, le=2000, description="Most links returned.")
    timeout_s: Timeout = 20.0

    @model_validator(mode="after")
    def _one_source(self) -> ExtractLinksInput:
        if (self.url is None) == (self.html is None):
            raise ValueError("give exactly one of url or html")
        if self.url is not None and self.base_url is not None:
            raise ValueError("base_url only applies to html")
        return self


class Link(BaseModel):
    url: str = Field(description="Absolute URL, without its #fragment.")
    text: str = Field(description="The link's anchor text (or title / image alt text).")


class ExtractLinksOutput(BaseModel):
    base_url: str | None = Field(description="URL relative links were resolved against.")
    links: list[Link]
    total: int = Field(description="Number of distinct links found before max_links applied.")
    truncated: bool = Field(description="True when more than max_links links were found.")


def _anchor_text(tag: Tag) -> str:
    text = " ".join(tag.get_text(" ").split())
    if text:
        return text
    title = tag.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    image = tag.find("img")
    alt = image.get("alt") if isinstance(image, Tag) else None
    return alt.strip() if isinstance(alt, str) else ""


def _page_links(soup: BeautifulSoup, base_url: str | None) -> list[Link]:
    base_tag = soup.find("base", href=True)
    if isinstance(base_tag, Tag):
        href = base_tag.get("href")
        if isinstance(href, str) and href.strip():
            base_url = urljoin(base_url or "", href.strip())
    links: dict[str, Link] = {}
    for tag in soup.find_all("a", href=True):
        href = tag.get("href")
        if not isinstance(href, str) or not href.strip() or href.strip().startswith("#"):
            continue
        absolute = urljoin(base_url, href.strip()) if base_url else href.strip()
        absolute = urldefrag(absolute).url
        if urlsplit(absolute).scheme.lower() not in ("http", "https"):
            continue  # relative without a base, mailto:, javascript:, ...
        text = _anchor_text(tag)
        known = links.get(absolute)
        if known is None:
            links[absolute] = Link(url=absolute, text=text)
        elif not known.text and text:
            known.text = text
    return list(links.values())


def _host(url: str | None) -> str | None:
    if url is None:
        return None
    return urlsplit(url).hostname or None


@builtin_tool
class ExtractLinks(Tool):
    name = "extract_links"
    description = (
        "List the links on a web page as absolute URLs with their anchor text. Either fetch "
        "`url` with GET, or read given `html` (pass `base_url` to resolve its relative links). "
        "Duplicates, #fragments and non-http links (mailto:, javascript:) are dropped; "
        "set same_domain to keep only links to the page's own host."
    )
    category = "web"
    Input = ExtractLinksInput
    Output = ExtractLinksOutput

    async def run(self, args: ExtractLinksInput, ctx: ToolContext) -> ExtractLinksOutput:
        base_url: str | None
        if args.url is None:
            soup, base_url = _soup(args.html or ""), args.base_url
        else:
            result = await _request(
                ctx, "GET", args.url, headers={"Accept": "text/html"}, timeout_s=args.timeout_s
            )
            _require_ok(result, "GET", args.url)
            if not _is_html(result):
                media = _media_type(result.headers) or "unknown type"
                raise ToolError(f"{args.url} is not an HTML page ({media}).")
            soup, base_url = _page_soup(result), result.url
        links = _page_links(soup, base_url)
        if args.same_domain:
            home = _host(base_url)
            if home is None:
                raise ToolInputError("same_domain needs a url or a base_url to compare with.")
            links = [link for link in links if _host(link.url) == home]
        return ExtractLinksOutput(
            base_url=base_url,
            links=links[: args.max_links],
            total=len(links),
            truncated=len(links) > args.max_links,
        )


# --- url_parse ------------------------------------------------------------------------------


class UrlParseInput(BaseModel):
    url: str = Field(min_length=1, max_length=8192, description="The URL to split into parts.")


class UrlParseOutput(BaseModel):
    scheme: str = Field(description="Lower-cased scheme, e.g. https; empty if none.")
    host: str | None = Field(description="Lower-cased host name or IP address.")
    port: int | None = Field(description="Explicit port, else the scheme's default, else null.")
    path: str
    query: dict[str, str | list[str]] = Field(
        description="Decoded query parameters; a repeated name maps to a list of values."
    )
    fragment: str
    username: str | None = Field(description="User name in the URL, if any.")
    has_password: bool = Field(description="Whether the URL embeds a password (not shown).")


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


@builtin_tool
class UrlParse(Tool):
    name = "url_parse"
    description = (
        "Split a URL into scheme, host, port (explicit or the scheme's default), path, decoded "
        "query parameters, fragment and user name. Pure parsing: nothing is fetched."
    )
    category = "web"
    Input = UrlParseInput
    Output = UrlParseOutput

    async def run(self, args: UrlParseInput, ctx: ToolContext) -> UrlParseOutput:
        url = args.url.strip()
        if any(ch in url for ch in "\x00\r\n"):
            raise ToolInputError("The URL contains control characters.")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ToolInputError(f"Not a valid URL: {exc}") from exc
        scheme = parts.scheme.lower()
        query: dict[str, str | list[str]] = {
            key: values[0] if len(values) == 1 else values
            for key, values in parse_qs(parts.query, keep_blank_values=True).items()
        }
        return UrlParseOutput(
            scheme=scheme,
            host=parts.hostname,
            port=port if port is not None else _DEFAULT_PORTS.get(scheme),
            path=parts.path,
            query=query,
            fragment=parts.fragment,
            username=parts.username,
            has_password=parts.password is not None,
        )
