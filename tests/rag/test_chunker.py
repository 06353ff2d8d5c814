"""Chunks stay within the token budget, end on sentence boundaries, overlap, and map back to
the document text."""

from __future__ import annotations

import re

import pytest

from tiangong.runtime.agent.tokens import count_tokens
from tiangong.runtime.rag.chunker import _sentences, chunk
from tiangong.runtime.rag.types import Chunk, ParsedDocument


def _chunks(text: str, **options: int) -> list[Chunk]:
    return chunk(ParsedDocument(text), **options)


def _assert_faithful(doc_text: str, chunks: list[Chunk], budget: int) -> None:
    for i, c in enumerate(chunks):
        assert c.index == i
        assert doc_text[c.start : c.end] == c.text
        assert c.token_count == count_tokens(c.text) <= budget


def test_chinese_text_breaks_only_after_sentence_enders() -> None:
    sentences = [f"第{i}句讲的是检索系统的一个细节，内容不短不长。" for i in range(40)]
    text = "".join(sentences)
    chunks = _chunks(text, chunk_tokens=60, overlap_tokens=0)
    _assert_faithful(text, chunks, 60)
    assert len(chunks) > 5
    for c in chunks:
        assert c.text.endswith("。")
        assert re.fullmatch(r"(第\d+句讲的是检索系统的一个细节，内容不短不长。)+", c.text)


def test_chinese_enders_and_closing_quotes_stay_with_their_sentence() -> None:
    text = "他问：“要等多久？”她说：“马上。”真的吗！好；走吧……然后呢"
    pieces = [c.text for c in _chunks(text, chunk_tokens=10, overlap_tokens=0)]
    # "真的吗！好；走吧……" (9 tokens) is one chunk only because …… ends a sentence.
    assert pieces == ["他问：“要等多久？”", "她说：“马上。”", "真的吗！好；走吧……", "然后呢"]


def test_english_breaks_at_sentence_ends_but_not_abbreviations_or_decimals() -> None:
    text = 'We used e.g. the 3.5 model. It worked! "Did it?" Yes. and so on'
    spans = _sentences(text, 0, len(text))
    assert [text[a:b] for a, b in spans] == [
        "We used e.g. the 3.5 model.",
        "It worked!",
        '"Did it?"',
        "Yes. and so on",
    ]


def test_token_budget_is_counted_in_tokens_not_characters() -> None:
    # 100 CJK characters are ~100 tokens; 100 ASCII characters are ~25.
    chinese = "检索增强生成。" * 30
    english = "Retrieval augmented generation. " * 30
    assert max(c.token_count for c in _chunks(chinese, chunk_tokens=100, overlap_tokens=0)) > 90
    english_chunks = _chunks(english, chunk_tokens=100, overlap_tokens=0)
    assert max(len(c.text) for c in english_chunks) > 300
    _assert_faithful(english, english_chunks, 100)


def test_chunks_overlap_by_whole_trailing_sentences() -> None:
    sentences = [f"Sentence number {i} talks about one topic." for i in range(30)]
    text = " ".join(sentences)
    chunks = _chunks(text, chunk_tokens=50, overlap_tokens=15)
    _assert_faithful(text, chunks, 50)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        assert current.start < previous.end  # they overlap
        repeated = text[current.start : previous.end]
        assert repeated in sentences  # by exactly one whole sentence (~11 tokens <= 15)
        assert count_tokens(repeated) <= 15


def test_no_overlap_when_asked_for_none() -> None:
    text = " ".join(f"Sentence {i} is here." for i in range(50))
    chunks = _chunks(text, chunk_tokens=30, overlap_tokens=0)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        assert current.start > previous.end


def test_headings_start_chunks_and_are_recorded() -> None:
    text = (
        "# 手册\n\n## 安装\n\n先安装依赖。\n\n然后启动。\n\n"
        "## 使用\n\n打开页面。\n\n```\n# not a heading\n```"
    )
    chunks = _chunks(text, chunk_tokens=400, overlap_tokens=50)
    _assert_faithful(text, chunks, 400)
    assert [c.heading for c in chunks] == ["安装", "使用"]
    assert chunks[0].text.startswith("# 手册\n\n## 安装")
    assert chunks[1].text.startswith("## 使用")
    assert "# not a heading" in chunks[1].text


def test_continuation_chunks_keep_the_section_heading() -> None:
    text = "## Methods\n\n" + " ".join(f"Step {i} of the method is done." for i in range(40))
    chunks = _chunks(text, chunk_tokens=40, overlap_tokens=0)
    assert len(chunks) > 3
    assert all(c.heading == "Methods" for c in chunks)


def test_table_rows_are_never_split() -> None:
    rows = [f"item {i} | {i * 3} | warehouse {i % 4}" for i in range(60)]
    text = "# Stock\n" + "\n".join(rows)
    chunks = _chunks(text, chunk_tokens=60, overlap_tokens=0)
    _assert_faithful(text, chunks, 60)
    for c in chunks:
        for line in c.text.split("\n"):
            assert line in rows or line == "# Stock"


def test_a_sentence_longer_than_the_budget_is_hard_split_at_soft_breaks() -> None:
    giant = "，".join(f"子句{i}包含一些文字" for i in range(200)) + "。"
    text = f"开头一句。{giant}结尾一句。"
    chunks = _chunks(text, chunk_tokens=50, overlap_tokens=10)
    _assert_faithful(text, chunks, 50)
    inner = [c for c in chunks if c.text not in ("开头一句。", "结尾一句。")]
    assert len(inner) >= 200 * 8 // 50
    # Cut after commas, not in the middle of a clause.
    assert all(c.text.endswith(("，", "。")) for c in inner[:-1])
    assert chunks[0].text.startswith("开头一句。")
    assert chunks[-1].text.endswith("结尾一句。")


def test_a_giant_word_without_breaks_is_still_cut_to_the_budget() -> None:
    text = "x" * 1000
    chunks = _chunks(text, chunk_tokens=30, overlap_tokens=5)
    _assert_faithful(text, chunks, 30)
    assert "".join(c.text for c in chunks) == text


def test_offsets_cover_the_document_in_order() -> None:
    text = "# A\n\nFirst para. Second sentence.\n\nThird para here.\n\n## B\n\n最后一段。"
    chunks = _chunks(text, chunk_tokens=8, overlap_tokens=0)
    _assert_faithful(text, chunks, 8)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    covered = "".join(text[c.start : c.end] for c in chunks)
    assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", text)


def test_empty_document_has_no_chunks() -> None:
    assert _chunks("   \n\n  ") == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_sizes_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        _chunks("text", chunk_tokens=size, overlap_tokens=overlap)
