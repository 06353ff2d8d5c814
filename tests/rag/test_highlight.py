"""Snippets mark the query's terms, CJK-aware, and are safe HTML."""

from __future__ import annotations

import pytest

from tiangong.runtime.rag.highlight import highlights
from tiangong.runtime.rag.tokenize import KeywordTokenizer


@pytest.fixture(scope="module")
def tokenizer() -> KeywordTokenizer:
    return KeywordTokenizer()


def test_chinese_term_inside_a_compound_is_marked(tokenizer: KeywordTokenizer) -> None:
    text = "我们构建了一个信息检索系统，用于内部文档。"
    (snippet,) = highlights(text, tokenizer.tokens("检索"), tokenizer)
    assert snippet == "我们构建了一个信息<em>检索</em>系统，用于内部文档。"


def test_overlapping_chinese_matches_merge_into_one_mark(tokenizer: KeywordTokenizer) -> None:
    (snippet,) = highlights("介绍信息检索的原理", tokenizer.tokens("信息检索"), tokenizer)
    assert snippet == "介绍<em>信息检索</em>的原理"


def test_english_word_forms_are_marked(tokenizer: KeywordTokenizer) -> None:
    (snippet,) = highlights(
        "Several studies of T cells.", tokenizer.tokens("cell study"), tokenizer
    )
    assert snippet == "Several <em>studies</em> of T <em>cells</em>."


def test_snippets_are_windows_around_the_best_matches(tokenizer: KeywordTokenizer) -> None:
    filler = "Nothing relevant is said in this sentence at all. " * 6
    text = f"{filler}The vaccine trial ended. {filler}Vaccine trial results were positive. {filler}"
    snippets = highlights(text, tokenizer.tokens("vaccine trial"), tokenizer, width=60)
    assert len(snippets) == 2
    for snippet in snippets:
        assert snippet.startswith("…") and snippet.endswith("…")
        assert snippet.count("<em>") == 2
        plain = snippet.replace("<em>", "").replace("</em>", "").strip("…")
        assert len(plain) <= 60
        # No word is cut in half at the edges.
        assert plain.split()[0] in filler.split() + ["The", "Vaccine"]
    assert "ended" in snippets[0]
    assert "results" in snippets[1]


def test_max_snippets_keeps_the_windows_with_most_distinct_terms(
    tokenizer: KeywordTokenizer,
) -> None:
    gap = " filler" * 30
    text = f"alpha only.{gap} alpha and beta together.{gap} beta only.{gap}"
    (snippet,) = highlights(text, tokenizer.tokens("alpha beta"), tokenizer, max_snippets=1)
    assert "<em>alpha</em> and <em>beta</em>" in snippet


def test_text_is_html_escaped(tokenizer: KeywordTokenizer) -> None:
    (snippet,) = highlights("<script>x</script> 检索", tokenizer.tokens("检索"), tokenizer)
    assert snippet == "&lt;script&gt;x&lt;/script&gt; <em>检索</em>"


def test_no_match_gives_no_snippets(tokenizer: KeywordTokenizer) -> None:
    assert highlights("nothing to see", tokenizer.tokens("检索"), tokenizer) == []
    assert highlights("nothing to see", [], tokenizer) == []
