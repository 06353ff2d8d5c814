"""Encoding tools: Base64, hashes, UUIDs, secure random values and URLs."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool


async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, f"{name} is not registered"
    return await run_tool(tool, args, ToolContext())


def test_encoding_tools_are_registered() -> None:
    for name in ("base64_codec", "hash_text", "uuid_generate", "random_value", "url_codec"):
        tool = BUILTIN.get(name)
        assert tool is not None and tool.category == "encoding"


# --- base64_codec -----------------------------------------------------------------------------


async def test_base64_round_trip_utf8() -> None:
    encoded = await call("base64_codec", {"text": "你好 world", "action": "encode"})
    assert encoded == {"result": "5L2g5aW9IHdvcmxk", "binary": False, "byte_length": 12}
    decoded = await call("base64_codec", {"text": encoded["result"], "action": "decode"})
    assert decoded["result"] == "你好 world"


async def test_base64_url_safe_without_padding() -> None:
    out = await call(
        "base64_codec", {"text": "??>>", "action": "encode", "url_safe": True, "padding": False}
    )
    assert out["result"] == "Pz8-Pg"
    back = await call("base64_codec", {"text": "Pz8-Pg", "action": "decode"})
    assert back["result"] == "??>>"


async def test_base64_binary_is_returned_as_hex() -> None:
    out = await call("base64_codec", {"text": "//8=", "action": "decode"})
    assert out == {"result": "ffff", "binary": True, "byte_length": 2}


async def test_base64_invalid_input() -> None:
    with pytest.raises(ToolError, match="Not valid Base64"):
        await call("base64_codec", {"text": "ab$c", "action": "decode"})
    with pytest.raises(ToolInputError, match="action"):
        await call("base64_codec", {"text": "x", "action": "rot13"})


# --- hash_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("md5", "900150983cd24fb0d6963f7d28e17f72"),
        ("sha1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ],
)
async def test_hash_text_known_digests(algorithm: str, digest: str) -> None:
    out = await call("hash_text", {"text": "abc", "algorithm": algorithm})
    assert out == {"digest": digest, "algorithm": algorithm}


async def test_hash_text_sha512_base64() -> None:
    out = await call("hash_text", {"text": "", "algorithm": "sha512", "output": "base64"})
    assert out["digest"].startswith(
        "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwv"
    )


async def test_hash_text_unknown_algorithm() -> None:
    with pytest.raises(ToolInputError, match="algorithm"):
        await call("hash_text", {"text": "abc", "algorithm": "crc32"})


# --- uuid_generate ----------------------------------------------------------------------------


async def test_uuid_generate_v4() -> None:
    out = await call("uuid_generate", {"count": 3})
    assert len(set(out["uuids"])) == 3
    assert all(uuid.UUID(u).version == 4 for u in out["uuids"])


async def test_uuid_generate_compact_uppercase() -> None:
    out = await call("uuid_generate", {"hyphens": False, "uppercase": True})
    assert re.fullmatch(r"[0-9A-F]{32}", out["uuids"][0])


async def test_uuid_generate_count_limit() -> None:
    with pytest.raises(ToolInputError, match="count"):
        await call("uuid_generate", {"count": 101})


# --- random_value -----------------------------------------------------------------------------


async def test_random_integers_stay_in_range() -> None:
    out = await call("random_value", {"kind": "integer", "min": 1, "max": 6, "count": 200})
    assert set(out["values"]) <= set(range(1, 7)) and len(out["values"]) == 200
    assert len(set(out["values"])) > 1


async def test_random_floats_strings_choice_sample() -> None:
    floats = await call("random_value", {"kind": "float", "min": -1, "max": 1, "count": 50})
    assert all(-1 <= v <= 1 for v in floats["values"])
    token = await call("random_value", {"kind": "string", "length": 24, "alphabet": "hex"})
    assert re.fullmatch(r"[0-9a-f]{24}", token["values"][0])
    custom = await call("random_value", {"kind": "string", "length": 10, "alphabet": "AB"})
    assert set(custom["values"][0]) <= {"A", "B"}
    picks = await call("random_value", {"kind": "choice", "items": ["x", "y"], "count": 5})
    assert set(picks["values"]) <= {"x", "y"}
    sample = await call("random_value", {"kind": "sample", "items": [1, 2, 3, 4], "count": 4})
    assert sorted(sample["values"]) == [1, 2, 3, 4]


async def test_random_value_bad_ranges() -> None:
    with pytest.raises(ToolError, match="greater than max"):
        await call("random_value", {"kind": "integer", "min": 5, "max": 1})
    with pytest.raises(ToolError, match="whole numbers"):
        await call("random_value", {"kind": "integer", "min": 0.5, "max": 3})
    with pytest.raises(ToolError, match="distinct"):
        await call("random_value", {"kind": "sample", "items": [1], "count": 2})
    with pytest.raises(ToolError, match="non-empty"):
        await call("random_value", {"kind": "choice"})
    with pytest.raises(ToolInputError, match="kind"):
        await call("random_value", {"kind": "dice"})


# --- url_codec --------------------------------------------------------------------------------


async def test_url_encode_and_decode() -> None:
    out = await call("url_codec", {"action": "encode", "text": "a b&c/d 中"})
    assert out["result"] == "a%20b%26c%2Fd%20%E4%B8%AD"
    plus = await call("url_codec", {"action": "decode", "text": "a%20b+c", "plus_for_space": True})
    assert plus["result"] == "a b c"


async def test_url_parse_splits_query() -> None:
    out = await call(
        "url_codec", {"action": "parse", "text": "https://u:p@example.com:8443/p?q=1&q=2&e=#frag"}
    )
    assert out["parts"] == {
        "scheme": "https",
        "username": "u",
        "host": "example.com",
        "port": 8443,
        "path": "/p",
        "query": {"q": ["1", "2"], "e": [""]},
        "fragment": "frag",
    }


async def test_url_build_encodes_parts() -> None:
    out = await call(
        "url_codec",
        {
            "action": "build",
            "host": "example.com",
            "path": "search results/1",
            "query": {"q": "中 文", "tag": ["a", "b"], "n": 1, "f": True},
            "fragment": "top",
        },
    )
    assert out["result"] == (
        "https://example.com/search%20results/1?q=%E4%B8%AD+%E6%96%87&tag=a&tag=b&n=1&f=true#top"
    )
    ipv6 = await call(
        "url_codec", {"action": "build", "host": "::1", "port": 8080, "scheme": "http"}
    )
    assert ipv6["result"] == "http://[::1]:8080"


async def test_url_codec_bad_input() -> None:
    with pytest.raises(ToolError, match="Invalid IPv6"):
        await call("url_codec", {"action": "parse", "text": "http://[::1"})
    with pytest.raises(ToolError, match="needs `host`"):
        await call("url_codec", {"action": "build"})
    with pytest.raises(ToolInputError, match="port"):
        await call("url_codec", {"action": "build", "host": "x", "port": 70000})
