"""Keyword tokens for BM25 and highlighting: jieba for Chinese, words for everything else.

Chinese runs go through jieba's search-engine mode, which also emits the dictionary words
inside longer ones (信息检索系统 → 信息, 检索, 系统, ...), so a two-character query term
finds a document that wrote it as part of a compound. Other scripts are split into words,
lowercased, and English words are Porter-stemmed (so "studies" matches "study").
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from pathlib import Path

import jieba

from tiangong.runtime.rag.stem import stem

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A run of Han characters, or a run of letters and digits of any other script.
_RUNS = re.compile(rf"([{_HAN}]+)|[^\W_{_HAN}]+")
_HAN_CHAR = re.compile(rf"[{_HAN}]")

_ENGLISH_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with".split()
)
_CHINESE_STOPWORDS = frozenset(
    "的 地 得 了 着 过 是 在 和 与 及 或 而 也 都 就 吗 呢 吧 啊 呀 哦 之 其 这 那 个 把 被 "
    "对 于 为 以 由 等".split()
)
STOPWORDS = _ENGLISH_STOPWORDS | _CHINESE_STOPWORDS

_CACHE_FILE = "jieba.cache"


def _fold(word: str) -> str:
    """Lowercase; full-width letters and digits (common in Chinese text) become ASCII."""
    return (word if word.isascii() else unicodedata.normalize("NFKC", word)).lower()


class KeywordTokenizer:
    """Thread-safe; jieba's dictionary (about 0.6 s to build) loads once, on first use.

    With `cache_dir`, jieba keeps its 9 MB dictionary cache there instead of in /tmp. Without
    it nothing is written anywhere. (Measured here, loading the cache is no faster than
    rebuilding the dictionary, about 0.7 s either way, so None is a fine choice.)
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        self._ready = False

    def initialize(self) -> None:
        """Load the dictionary now rather than on the first call to `tokens`."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            tokenizer = self._jieba
            if self._cache_dir is not None:
                self._cache_dir.mkdir(parents=True, exist_ok=True)
                tokenizer.tmp_dir = str(self._cache_dir)
                tokenizer.cache_file = _CACHE_FILE
                # jieba logs each dictionary load at DEBUG to its own stderr handler.
                logging.getLogger("jieba").setLevel(logging.WARNING)
                tokenizer.initialize()
            else:
                tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(tokenizer.get_dict_file())
                tokenizer.initialized = True
            self._ready = True

    def tokens(self, text: str) -> list[str]:
        """Search tokens in text order, stopwords and punctuation dropped."""
        self.initialize()
        out: list[str] = []
        for match in _RUNS.finditer(text):
            if match.group(1) is None:
                word = _fold(match.group(0))
                if word not in STOPWORDS:
                    out.append(stem(word))
                continue
            out += [w for w in self._jieba.cut_for_search(match.group(1)) if w not in STOPWORDS]
        return out

    def token_spans(self, text: str, only: set[str] | None = None) -> list[tuple[str, int, int]]:
        """Like `tokens`, with each token's [start, end) in `text`. In Chinese the spans of
        search-mode words overlap (信息检索 and the 检索 inside it). With `only`, just the
        tokens in it: the same spans as filtering afterwards, but jieba (the slow part of
        highlighting) only sees the Chinese runs that contain a term."""
        self.initialize()
        han: list[str] | None = None
        latin = True
        if only is not None:
            # A Han run yields only Han words (each a substring of the run), any other run
            # only words without Han.
            han = [term for term in only if _HAN_CHAR.search(term)]
            latin = len(han) < len(only)
        out: list[tuple[str, int, int]] = []
        for match in _RUNS.finditer(text):
            start = match.start()
            if match.group(1) is None:
                if not latin:
                    continue
                word = _fold(match.group(0))
                if word not in STOPWORDS:
                    token = stem(word)
                    if only is None or token in only:
                        out.append((token, start, match.end()))
                continue
            run = match.group(1)
            if han is not None and not any(term in run for term in han):
                continue
            for word, a, b in self._jieba.tokenize(run, mode="search"):
                if word not in STOPWORDS and (only is None or word in only):
                    out.append((word, start + a, start + b))
        return out
