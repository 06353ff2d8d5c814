"""Keyword tokens: jieba search mode for Chinese, stemmed words for English, no stray files."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tiangong.runtime.rag.stem import stem
from tiangong.runtime.rag.tokenize import KeywordTokenizer


@pytest.fixture(scope="module")
def tokenizer() -> KeywordTokenizer:
    return KeywordTokenizer()


def test_two_character_terms_are_found_inside_longer_words(tokenizer: KeywordTokenizer) -> None:
    document = tokenizer.tokens("我们构建了信息检索系统")
    assert "检索" in document
    assert "信息检索" in document
    assert set(tokenizer.tokens("检索")) <= set(document)


def test_chinese_particles_and_punctuation_are_dropped(tokenizer: KeywordTokenizer) -> None:
    tokens = tokenizer.tokens("这是我的书，了解了吗？")
    assert "的" not in tokens
    assert "是" not in tokens
    assert "了" not in tokens
    assert not {"，", "？", " "} & set(tokens)
    assert "书" in tokens


def test_english_words_are_lowercased_stemmed_and_stopworded(tokenizer: KeywordTokenizer) -> None:
    assert tokenizer.tokens("The Studies of running CELLS, and IL-6!") == [
        "studi",
        "run",
        "cell",
        "il",
        "6",
    ]
    assert tokenizer.tokens("study") == tokenizer.tokens("studies")


def test_mixed_scripts_split_at_the_script_boundary(tokenizer: KeywordTokenizer) -> None:
    tokens = tokenizer.tokens("用Python实现BM25检索")
    assert {"python", "bm25", "检索", "实现"} <= set(tokens)


def test_token_spans_point_back_into_the_text(tokenizer: KeywordTokenizer) -> None:
    text = "Cells 进行 信息检索"
    spans = tokenizer.token_spans(text)
    assert ("cell", 0, 5) in spans
    assert ("检索", 11, 13) in spans
    assert [t for t, _, _ in spans if t != "信息检索"] == [
        t for t in tokenizer.tokens(text) if t != "信息检索"
    ]


def test_porter_stems_match_the_reference_algorithm() -> None:
    expected = {
        "caresses": "caress",
        "ponies": "poni",
        "agreed": "agre",
        "hopping": "hop",
        "relational": "relat",
        "generalizations": "gener",
        "activation": "activ",
        "electrical": "electr",
        "rate": "rate",
        "mice": "mice",
    }
    assert {w: stem(w) for w in expected} == expected


def test_dictionary_cache_goes_to_the_given_directory(tmp_path: Path) -> None:
    tokenizer = KeywordTokenizer(tmp_path / "jieba")
    assert tokenizer.tokens("信息检索") == ["信息", "检索", "信息检索"]
    assert (tmp_path / "jieba" / "jieba.cache").stat().st_size > 1_000_000
    # A second tokenizer loads the cached dictionary and tokenizes the same way.
    assert KeywordTokenizer(tmp_path / "jieba").tokens("信息检索") == ["信息", "检索", "信息检索"]


def test_nothing_is_written_to_the_temp_dir_by_default() -> None:
    temp = Path(tempfile.gettempdir())
    before = {p.name for p in temp.glob("jieba*")}
    tokenizer = KeywordTokenizer()
    assert tokenizer.tokens("检索") == ["检索"]
    assert {p.name for p in temp.glob("jieba*")} == before


def test_full_width_letters_and_digits_match_ascii(tokenizer: KeywordTokenizer) -> None:
    assert tokenizer.tokens("ＧＰＴ４模型") == tokenizer.tokens("GPT4模型")
    assert ("gpt4", 0, 4) in tokenizer.token_spans("ＧＰＴ４模型")


@pytest.mark.parametrize(
    "query",
    ["检索", "信息检索 系统", "studies of GPT4", "检索 study ＧＰＴ４", "的 the", "无关词"],
)
def test_token_spans_of_some_terms_equal_the_filtered_spans(
    tokenizer: KeywordTokenizer, query: str
) -> None:
    text = (
        "我们构建了一个信息检索系统，用于内部文档。Several studies of GPT4 models, "
        "ＧＰＴ４模型的检索质量取决于分词和排序。系统 studied retrieval; 检索！"
    )
    terms = set(tokenizer.tokens(query))
    expected = [span for span in tokenizer.token_spans(text) if span[0] in terms]
    assert tokenizer.token_spans(text, only=terms) == expected
    assert tokenizer.token_spans(text, only=set()) == []
