"""Text tools: regex, splitting, stats, case, diff, templates, extraction, similarity, HTML."""

from __future__ import annotations

import time
from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool

TEXT_TOOLS = {
    "regex_match",
    "regex_replace",
    "text_split",
    "text_stats",
    "text_case",
    "text_diff",
    "text_template",
    "text_extract",
    "text_similarity",
    "html_to_text",
    "markdown_to_html",
}


async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, f"{name} is not registered"
    return await run_tool(tool, args, ToolContext())


def test_text_tools_are_registered_with_schemas() -> None:
    for name in TEXT_TOOLS:
        tool = BUILTIN.get(name)
        assert tool is not None, name
        assert tool.category == "text"
        assert len(tool.description) > 40
        assert tool.input_schema()["additionalProperties"] is False


# --- regex_match ------------------------------------------------------------------------------


async def test_regex_match_returns_offsets_and_groups() -> None:
    out = await call("regex_match", {"text": "a1 B22 c333", "pattern": r"(?P<l>[a-z])(\d+)"})
    assert out["count"] == 2
    assert out["matches"][0] == {
        "match": "a1",
        "start": 0,
        "end": 2,
        "groups": ["a", "1"],
        "named": {"l": "a"},
    }
    assert out["matches"][1]["match"] == "c333"


async def test_regex_match_flags_and_limit() -> None:
    out = await call(
        "regex_match", {"text": "A1 b2 C3", "pattern": r"[a-z]\d", "flags": "i", "max_matches": 2}
    )
    assert [m["match"] for m in out["matches"]] == ["A1", "b2"]
    assert out["truncated"] is True


async def test_regex_match_invalid_pattern_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="invalid regular expression"):
        await call("regex_match", {"text": "x", "pattern": "(unclosed"})


async def test_regex_match_rejects_unknown_flags() -> None:
    with pytest.raises(ToolInputError):
        await call("regex_match", {"text": "x", "pattern": "x", "flags": "g"})


async def test_regex_match_catastrophic_pattern_is_stopped() -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match="longer than 2 s"):
        await call("regex_match", {"text": "a" * 40 + "b", "pattern": r"(a+)+$"})
    assert time.monotonic() - started < 6


# --- regex_replace ----------------------------------------------------------------------------


async def test_regex_replace_with_group_references() -> None:
    out = await call(
        "regex_replace",
        {
            "text": "2024-01-02 and 2025-12-31",
            "pattern": r"(\d+)-(\d+)-(\d+)",
            "replacement": r"\3/\2/\1",
        },
    )
    assert out == {"text": "02/01/2024 and 31/12/2025", "replacements": 2}


async def test_regex_replace_count_limits_replacements() -> None:
    out = await call(
        "regex_replace", {"text": "aaa", "pattern": "a", "replacement": "b", "count": 2}
    )
    assert out == {"text": "bba", "replacements": 2}


async def test_regex_replace_bad_group_reference() -> None:
    with pytest.raises(ToolError, match="invalid replacement"):
        await call("regex_replace", {"text": "abc", "pattern": "b", "replacement": r"\9"})


async def test_regex_replace_refuses_explosive_output() -> None:
    with pytest.raises(ToolError, match="too long"):
        await call("regex_replace", {"text": "a" * 1000, "pattern": "a", "replacement": "x" * 5000})


# --- text_split -------------------------------------------------------------------------------


async def test_text_split_sentences_chinese_and_english() -> None:
    text = '你好。今天天气怎么样？很好！Hello world. Pi is 3.14 today! "Really?" he asked.'
    out = await call("text_split", {"text": text, "mode": "sentences"})
    assert out["parts"] == [
        "你好。",
        "今天天气怎么样？",
        "很好！",
        "Hello world.",
        "Pi is 3.14 today!",
        '"Really?"',
        "he asked.",
    ]


async def test_text_split_chunks_with_overlap() -> None:
    out = await call(
        "text_split", {"text": "abcdefghij", "mode": "chunks", "chunk_size": 4, "overlap": 1}
    )
    assert out["parts"] == ["abcd", "defg", "ghij"]


async def test_text_split_delimiter_lines_and_cap() -> None:
    out = await call("text_split", {"text": "a, b,,c", "mode": "delimiter", "delimiter": ","})
    assert out["parts"] == ["a", "b", "c"]
    out = await call("text_split", {"text": "1\n2\n3\n", "mode": "lines", "max_parts": 2})
    assert out == {"parts": ["1", "2"], "count": 2, "total": 3, "truncated": True}


async def test_text_split_delimiter_mode_needs_a_delimiter() -> None:
    with pytest.raises(ToolInputError, match="delimiter"):
        await call("text_split", {"text": "a,b", "mode": "delimiter"})
    with pytest.raises(ToolInputError, match="overlap"):
        await call("text_split", {"text": "abc", "mode": "chunks", "chunk_size": 2, "overlap": 2})


# --- text_stats -------------------------------------------------------------------------------


async def test_text_stats_counts_cjk_words_and_tokens() -> None:
    out = await call("text_stats", {"text": "Hello world, don't panic.\n\n你好世界。"})
    assert out["characters"] == 32
    assert out["cjk_characters"] == 4
    assert out["words"] == 4
    assert out["lines"] == 3
    assert out["paragraphs"] == 2
    assert out["sentences"] == 2
    assert out["bytes_utf8"] == 27 + 5 * 3
    # 4 CJK characters + ceil(28 other characters, 。 included, / 4)
    assert out["estimated_tokens"] == 4 + 7


async def test_text_stats_rejects_oversized_text() -> None:
    with pytest.raises(ToolInputError, match="text"):
        await call("text_stats", {"text": "x" * 200_001})


# --- text_case --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("upper", "XMLHTTPREQUEST USER_ID"),
        ("lower", "xmlhttprequest user_id"),
        ("snake", "xml_http_request_user_id"),
        ("camel", "xmlHttpRequestUserId"),
        ("kebab", "xml-http-request-user-id"),
    ],
)
async def test_text_case_modes(mode: str, expected: str) -> None:
    out = await call("text_case", {"text": "XMLHttpRequest user_id", "mode": mode})
    assert out["text"] == expected


async def test_text_case_title_keeps_apostrophes() -> None:
    out = await call("text_case", {"text": "they're here", "mode": "title"})
    assert out["text"] == "They're Here"


async def test_text_case_unknown_mode() -> None:
    with pytest.raises(ToolInputError, match="mode"):
        await call("text_case", {"text": "x", "mode": "pascal"})


# --- text_diff --------------------------------------------------------------------------------


async def test_text_diff_unified() -> None:
    out = await call("text_diff", {"old": "a\nb\nc", "new": "a\nB\nc\nd"})
    assert out["diff"].splitlines() == [
        "--- old",
        "+++ new",
        "@@ -1,3 +1,4 @@",
        " a",
        "-b",
        "+B",
        " c",
        "+d",
    ]
    assert (out["changed"], out["lines_added"], out["lines_removed"]) == (True, 2, 1)


async def test_text_diff_equal_texts() -> None:
    out = await call("text_diff", {"old": "same", "new": "same"})
    assert out == {"diff": "", "changed": False, "lines_added": 0, "lines_removed": 0}


async def test_text_diff_bad_context() -> None:
    with pytest.raises(ToolInputError, match="context"):
        await call("text_diff", {"old": "a", "new": "b", "context": -1})


async def test_text_diff_too_many_lines() -> None:
    with pytest.raises(ToolError, match="at most 10000 lines"):
        await call("text_diff", {"old": "\n" * 10_001, "new": "x"})


# --- text_template ----------------------------------------------------------------------------


async def test_text_template_renders_loops_and_filters() -> None:
    out = await call(
        "text_template",
        {
            "template": "Hi {{ name }}!{% for x in items %} {{ x | upper }}{% endfor %}",
            "variables": {"name": "李雷", "items": ["a", "b"]},
        },
    )
    assert out["text"] == "Hi 李雷! A B"


async def test_text_template_undefined_variable_is_an_error_when_strict() -> None:
    with pytest.raises(ToolError, match="undefined variable"):
        await call("text_template", {"template": "{{ missing }}"})
    out = await call("text_template", {"template": "[{{ missing }}]", "strict": False})
    assert out["text"] == "[]"


async def test_text_template_syntax_error_names_the_line() -> None:
    with pytest.raises(ToolError, match="syntax error on line 2"):
        await call("text_template", {"template": "ok\n{% for %}"})


async def test_text_template_sandbox_blocks_attribute_escapes() -> None:
    with pytest.raises(ToolError, match="sandbox"):
        await call("text_template", {"template": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})


async def test_text_template_runaway_loop_is_stopped() -> None:
    template = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(ToolError, match="longer than 5 s"):
        await call("text_template", {"template": template})
    assert time.monotonic() - started < 10


# --- text_extract -----------------------------------------------------------------------------


async def test_text_extract_finds_each_kind() -> None:
    text = (
        "Mail li@example.com or a.b@x.co.uk. See https://example.com/a_(b), "
        "电话13812345678，座机 010-12345678 或 +86 138-1234-5678. "
        "Price 1,234.5 and 12% off. #AI #话题讨论# item #1"
    )
    out = await call("text_extract", {"text": text})
    assert out["emails"] == ["li@example.com", "a.b@x.co.uk"]
    assert out["urls"] == ["https://example.com/a_(b)"]
    assert out["phones"] == ["13812345678", "010-12345678", "+86 138-1234-5678"]
    assert "1,234.5" in out["numbers"] and "12%" in out["numbers"]
    assert out["hashtags"] == ["AI", "话题讨论"]


async def test_text_extract_selected_kinds_only() -> None:
    out = await call("text_extract", {"text": "x@y.io 13912345678", "kinds": ["phones"]})
    assert out["phones"] == ["13912345678"]
    assert out["emails"] == []


async def test_text_extract_unknown_kind() -> None:
    with pytest.raises(ToolInputError, match="kinds"):
        await call("text_extract", {"text": "x", "kinds": ["ssn"]})


# --- text_similarity --------------------------------------------------------------------------


async def test_text_similarity_identical_and_near() -> None:
    same = await call("text_similarity", {"a": "Hello World", "b": "hello world"})
    assert same["ratio"] == 1.0 and same["jaccard"] == 1.0
    near = await call("text_similarity", {"a": "Jon Smith", "b": "John Smith"})
    assert 0.9 < near["ratio"] < 1.0
    assert near["jaccard"] == pytest.approx(1 / 3)


async def test_text_similarity_uses_cjk_bigrams() -> None:
    out = await call("text_similarity", {"a": "今天天气很好", "b": "今天天气不错"})
    # bigrams: 今天 天天 天气 气很 很好 vs 今天 天天 天气 气不 不错
    assert out["shared_tokens"] == 3
    assert out["jaccard"] == pytest.approx(3 / 7)


async def test_text_similarity_requires_both_texts() -> None:
    with pytest.raises(ToolInputError, match="b"):
        await call("text_similarity", {"a": "x"})


# --- html_to_text -----------------------------------------------------------------------------


async def test_html_to_text_drops_scripts_and_keeps_paragraphs() -> None:
    html = (
        "<html><head><title>Title</title><style>p{}</style></head><body>"
        "<h1>Head</h1><!-- note --><p>One <b>two</b><br>three</p><script>bad()</script>"
        "<ul><li>a</li><li>b</li></ul><a href='/x'>link</a></body></html>"
    )
    out = await call("html_to_text", {"html": html, "include_links": True})
    assert out["title"] == "Title"
    assert out["text"] == "Head\n\nOne two\nthree\n\na\n\nb\n\nlink"
    assert out["links"] == [{"text": "link", "href": "/x"}]


async def test_html_to_text_handles_deep_nesting() -> None:
    out = await call("html_to_text", {"html": "<div>" * 5000 + "deep"})
    assert out["text"] == "deep"


async def test_html_to_text_rejects_missing_html() -> None:
    with pytest.raises(ToolInputError, match="html"):
        await call("html_to_text", {"include_links": True})


# --- markdown_to_html -------------------------------------------------------------------------


async def test_markdown_to_html_escapes_raw_html() -> None:
    out = await call(
        "markdown_to_html",
        {"markdown": "# T\n\n<script>alert(1)</script>\n\n|a|b|\n|-|-|\n|1|2|\n\n~~x~~"},
    )
    assert "<h1>T</h1>" in out["html"]
    assert "<script>" not in out["html"]
    assert "&lt;script&gt;" in out["html"]
    assert "<td>1</td>" in out["html"] and "<s>x</s>" in out["html"]


async def test_markdown_to_html_does_not_link_javascript() -> None:
    out = await call("markdown_to_html", {"markdown": "[x](javascript:alert(1))"})
    assert "href" not in out["html"]


async def test_markdown_to_html_rejects_non_string() -> None:
    with pytest.raises(ToolInputError, match="markdown"):
        await call("markdown_to_html", {"markdown": ["not", "text"]})
