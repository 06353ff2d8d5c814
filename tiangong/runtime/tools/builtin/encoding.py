"""Builtin tools: encoding. Base64, hashes, UUIDs, secure random values and URLs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import string
import uuid
from typing import Any, Literal
from urllib.parse import (
    parse_qs,
    quote,
    quote_plus,
    unquote,
    unquote_plus,
    urlencode,
    urlsplit,
    urlunsplit,
)

from pydantic import BaseModel, ConfigDict, Field

from tiangong.runtime.tools.base import Tool, ToolError
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool

MAX_TEXT = 1_000_000
_BASE64_JUNK = re.compile(r"\s+")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- base64_codec -----------------------------------------------------------------------------


class Base64Input(_Input):
    text: str = Field(
        max_length=MAX_TEXT,
        description="encode: any text (taken as UTF-8); decode: Base64 in the standard or "
        "URL-safe alphabet, padding optional.",
    )
    action: Literal["encode", "decode"]
    url_safe: bool = Field(default=False, description="encode with - and _ instead of + and /.")
    padding: bool = Field(default=True, description="encode with trailing = padding.")


class Base64Output(BaseModel):
    result: str
    binary: bool = Field(
        description="decode only: true when the bytes are not UTF-8 text and `result` is hex."
    )
    byte_length: int = Field(description="Bytes before encoding or after decoding.")


@builtin_tool
class Base64Codec(Tool):
    name = "base64_codec"
    description = (
        "Base64-encode text (UTF-8) or decode Base64 back to text, with an optional URL-safe "
        "alphabet (- _) and optional padding. Decoded bytes that are not UTF-8 are returned "
        "as hex with binary=true. Input up to 1,000,000 characters."
    )
    category = "encoding"
    Input = Base64Input
    Output = Base64Output

    async def run(self, args: Base64Input, ctx: ToolContext) -> Base64Output:
        if args.action == "encode":
            data = args.text.encode("utf-8", errors="surrogatepass")
            encoded = (base64.urlsafe_b64encode if args.url_safe else base64.b64encode)(data)
            text = encoded.decode("ascii")
            return Base64Output(
                result=text if args.padding else text.rstrip("="),
                binary=False,
                byte_length=len(data),
            )
        compact = _BASE64_JUNK.sub("", args.text).rstrip("=")
        compact = compact.translate(str.maketrans("-_", "+/"))
        compact += "=" * (-len(compact) % 4)
        try:
            raw = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ToolError(f"Not valid Base64: {exc}") from exc
        try:
            return Base64Output(result=raw.decode("utf-8"), binary=False, byte_length=len(raw))
        except UnicodeDecodeError:
            return Base64Output(result=raw.hex(), binary=True, byte_length=len(raw))


# --- hash_text --------------------------------------------------------------------------------


class HashInput(_Input):
    text: str = Field(max_length=MAX_TEXT, description="Text to hash, taken as UTF-8.")
    algorithm: Literal["md5", "sha1", "sha256", "sha512"] = "sha256"
    output: Literal["hex", "base64"] = "hex"


class HashOutput(BaseModel):
    digest: str
    algorithm: str


@builtin_tool
class HashText(Tool):
    name = "hash_text"
    description = (
        "Hash text (UTF-8, up to 1,000,000 characters) with md5, sha1, sha256 or sha512 and "
        "return the digest in hex (default) or Base64. md5 and sha1 are for checksums, not "
        "security."
    )
    category = "encoding"
    Input = HashInput
    Output = HashOutput

    async def run(self, args: HashInput, ctx: ToolContext) -> HashOutput:
        hasher = hashlib.new(args.algorithm, usedforsecurity=False)
        hasher.update(args.text.encode("utf-8", errors="surrogatepass"))
        digest = (
            hasher.hexdigest()
            if args.output == "hex"
            else base64.b64encode(hasher.digest()).decode("ascii")
        )
        return HashOutput(digest=digest, algorithm=args.algorithm)


# --- uuid_generate ----------------------------------------------------------------------------


class UuidInput(_Input):
    count: int = Field(default=1, ge=1, le=100, description="How many UUIDs (1-100).")
    uppercase: bool = False
    hyphens: bool = Field(default=True, description="Keep the 8-4-4-4-12 hyphens.")


class UuidOutput(BaseModel):
    uuids: list[str]


@builtin_tool
class UuidGenerate(Tool):
    name = "uuid_generate"
    description = "Generate 1-100 random version-4 UUIDs, optionally uppercase or without hyphens."
    category = "encoding"
    Input = UuidInput
    Output = UuidOutput

    async def run(self, args: UuidInput, ctx: ToolContext) -> UuidOutput:
        values = [uuid.uuid4() for _ in range(args.count)]
        texts = [str(v) if args.hyphens else v.hex for v in values]
        return UuidOutput(uuids=[t.upper() if args.uppercase else t for t in texts])


# --- random_value -----------------------------------------------------------------------------

_ALPHABETS = {
    "alphanumeric": string.ascii_letters + string.digits,
    "letters": string.ascii_letters,
    "lowercase": string.ascii_lowercase,
    "uppercase": string.ascii_uppercase,
    "digits": string.digits,
    "hex": "0123456789abcdef",
    "symbols": string.ascii_letters + string.digits + "!@#$%^&*()-_=+[]{};:,.?/",
}


class RandomInput(_Input):
    kind: Literal["integer", "float", "string", "choice", "sample"] = Field(
        description="integer/float: uniform in [min, max]; string: `length` characters from "
        "`alphabet`; choice: `count` picks from `items` (repeats possible); sample: `count` "
        "distinct items."
    )
    min: float = Field(default=0, ge=-1e15, le=1e15, description="Lower bound (inclusive).")
    max: float = Field(default=100, ge=-1e15, le=1e15, description="Upper bound (inclusive).")
    count: int = Field(default=1, ge=1, le=1000, description="How many values.")
    length: int = Field(default=16, ge=1, le=10_000, description="String length.")
    alphabet: str = Field(
        default="alphanumeric",
        min_length=1,
        max_length=1000,
        description="One of alphanumeric, letters, lowercase, uppercase, digits, hex, "
        "symbols, or the literal characters to use.",
    )
    items: list[Any] = Field(
        default_factory=list, max_length=10_000, description="Items for choice and sample."
    )


class RandomOutput(BaseModel):
    values: list[Any]


@builtin_tool
class RandomValue(Tool):
    name = "random_value"
    description = (
        "Cryptographically secure random values: integers or floats in [min, max], strings "
        "of a given length and alphabet (e.g. passwords, tokens), or picks from a list "
        "(choice with repeats, sample without). Up to 1000 values per call."
    )
    category = "encoding"
    Input = RandomInput
    Output = RandomOutput

    async def run(self, args: RandomInput, ctx: ToolContext) -> RandomOutput:
        rng = secrets.SystemRandom()
        if args.kind in ("integer", "float") and args.min > args.max:
            raise ToolError(f"min ({args.min:g}) is greater than max ({args.max:g}).")
        if args.kind == "integer":
            low, high = int(args.min), int(args.max)
            if low != args.min or high != args.max:
                raise ToolError("For integers, min and max must be whole numbers.")
            return RandomOutput(values=[rng.randint(low, high) for _ in range(args.count)])
        if args.kind == "float":
            return RandomOutput(values=[rng.uniform(args.min, args.max) for _ in range(args.count)])
        if args.kind == "string":
            alphabet = _ALPHABETS.get(args.alphabet, args.alphabet)
            if args.count * args.length > 100_000:
                raise ToolError("count × length must be at most 100,000 characters.")
            values = [
                "".join(secrets.choice(alphabet) for _ in range(args.length))
                for _ in range(args.count)
            ]
            return RandomOutput(values=values)
        if not args.items:
            raise ToolError(f"kind={args.kind} needs a non-empty `items` list.")
        if args.kind == "choice":
            return RandomOutput(values=[secrets.choice(args.items) for _ in range(args.count)])
        if args.count > len(args.items):
            raise ToolError(f"Cannot sample {args.count} distinct items from {len(args.items)}.")
        return RandomOutput(values=rng.sample(args.items, args.count))


# --- url_codec --------------------------------------------------------------------------------


class UrlInput(_Input):
    action: Literal["encode", "decode", "parse", "build"] = Field(
        description="encode: percent-encode `text`; decode: undo it; parse: split the URL in "
        "`text` into parts and query parameters; build: join the parts given below."
    )
    text: str = Field(default="", max_length=100_000, description="Text or URL to work on.")
    safe: str = Field(
        default="", max_length=50, description="encode: characters left as they are, e.g. '/'."
    )
    plus_for_space: bool = Field(
        default=False, description="encode/decode: spaces as + (form encoding) instead of %20."
    )
    scheme: str = Field(default="https", max_length=20, description="build: e.g. https.")
    host: str = Field(default="", max_length=255, description="build: host name or IP.")
    port: int | None = Field(default=None, ge=1, le=65535, description="build: port.")
    path: str = Field(default="", max_length=10_000, description="build: path, e.g. /a/b.")
    query: dict[str, str | int | float | bool | list[str]] = Field(
        default_factory=dict, description="build: query parameters; a list repeats the key."
    )
    fragment: str = Field(default="", max_length=10_000, description="build: part after #.")


class UrlParts(BaseModel):
    scheme: str
    username: str | None
    host: str | None
    port: int | None
    path: str
    query: dict[str, list[str]]
    fragment: str


class UrlOutput(BaseModel):
    result: str | None = Field(description="encode, decode and build: the text or URL.")
    parts: UrlParts | None = Field(description="parse: the URL's parts.")


def _query_value(value: str | int | float | bool | list[str]) -> str | list[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return value
    return str(value)


@builtin_tool
class UrlCodec(Tool):
    name = "url_codec"
    description = (
        "Work with URLs: percent-encode or decode text (optionally + for spaces), parse a URL "
        "into scheme, host, port, path, query parameters and fragment, or build a URL from "
        "those parts (the query is encoded for you)."
    )
    category = "encoding"
    Input = UrlInput
    Output = UrlOutput

    async def run(self, args: UrlInput, ctx: ToolContext) -> UrlOutput:
        if args.action == "encode":
            encode = quote_plus if args.plus_for_space else quote
            return UrlOutput(result=encode(args.text, safe=args.safe), parts=None)
        if args.action == "decode":
            decode = unquote_plus if args.plus_for_space else unquote
            return UrlOutput(result=decode(args.text), parts=None)
        if args.action == "parse":
            return UrlOutput(result=None, parts=_parse_url(args.text))
        return UrlOutput(result=_build_url(args), parts=None)


def _parse_url(text: str) -> UrlParts:
    if not text.strip():
        raise ToolError("parse needs the URL in `text`.")
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as exc:
        raise ToolError(f"Cannot parse URL: {exc}") from exc
    return UrlParts(
        scheme=parts.scheme,
        username=parts.username,
        host=parts.hostname,
        port=port,
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        fragment=parts.fragment,
    )


def _build_url(args: UrlInput) -> str:
    if not args.host:
        raise ToolError("build needs `host`.")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", args.scheme):
        raise ToolError(f"Invalid scheme {args.scheme!r}.")
    host = args.host.strip()
    if re.search(r"[\s/?#@]", host):
        raise ToolError(f"Invalid host {args.host!r}.")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = f"{host}:{args.port}" if args.port else host
    path = quote(args.path, safe="/%:@!$&'()*+,;=-._~")
    if path and not path.startswith("/"):
        path = "/" + path
    query = urlencode({k: _query_value(v) for k, v in args.query.items()}, doseq=True)
    return urlunsplit((args.scheme, netloc, path, query, quote(args.fragment, safe="/?%=&")))
