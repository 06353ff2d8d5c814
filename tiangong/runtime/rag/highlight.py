"""Search-result snippets with the query's terms marked `<em>…</em>`.

Matching uses the same tokenizer as keyword search, so "studies" marks "study" and 检索 marks
the 检索 inside 信息检索系统. The rest of the snippet is HTML-escaped: safe to render as HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tiangong.runtime.rag.tokenize import KeywordTokenizer

_WHITESPACE = re.compile(r"\s+")
_MAX_MATCHES = 500
_WORD_SNAP = 20  # at most this many characters moved to avoid cutting an English word


@dataclass
class _Match:
    start: int
    end: int
    terms: set[str] = field(default_factory=set)


def highlights(
    text: str,
    query_tokens: Sequence[str],
    tokenizer: KeywordTokenizer,
    max_snippets: int = 3,
    width: int = 80,
) -> list[str]:
    """Up to `max_snippets` windows of about `width` characters, in text order, chosen for
    covering the most distinct query terms; [] when no term occurs."""
    terms = set(query_tokens)
    if not terms or not text.strip() or max_snippets < 1 or width < 1:
        return []
    matches = _matches(text, terms, tokenizer)
    if not matches:
        return []
    windows: list[tuple[int, int]] = []
    for _, ws, we in sorted(_candidates(text, matches, width), reverse=True):
        if all(we <= a or ws >= b for a, b in windows):
            windows.append((ws, we))
            if len(windows) == max_snippets:
                break
    return [_render(text, ws, we, matches) for ws, we in sorted(windows)]


def _matches(text: str, terms: set[str], tokenizer: KeywordTokenizer) -> list[_Match]:
    spans = sorted((a, b, t) for t, a, b in tokenizer.token_spans(text, only=terms))
    merged: list[_Match] = []
    # Search-mode words overlap (信息检索 contains 检索): merge them into one mark.
    for a, b, term in spans:
        if merged and a < merged[-1].end:
            merged[-1].end = max(merged[-1].end, b)
            merged[-1].terms.add(term)
        else:
            merged.append(_Match(a, b, {term}))
        if len(merged) >= _MAX_MATCHES:
            break
    return merged


def _candidates(
    text: str, matches: list[_Match], width: int
) -> list[tuple[tuple[int, int, int], int, int]]:
    """A window led by each match, scored by (distinct terms, matches, earlier first)."""
    out = []
    lead = width // 4
    for i, first in enumerate(matches):
        ws = max(0, first.start - lead)
        we = min(len(text), ws + width)
        ws = max(0, min(ws, we - width))
        inside = [m for m in matches[i:] if m.end <= we] or [first]
        distinct = set().union(*(m.terms for m in inside))
        out.append(((len(distinct), len(inside), -i), ws, max(we, first.end)))
    return out


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _render(text: str, ws: int, we: int, matches: list[_Match]) -> str:
    inside = [m for m in matches if m.start >= ws and m.end <= we]
    first = inside[0].start if inside else we
    last = inside[-1].end if inside else ws
    # Do not start or end in the middle of an English word.
    for _ in range(_WORD_SNAP):
        if 0 < ws < first and _is_word_char(text[ws - 1]) and _is_word_char(text[ws]):
            ws += 1
    for _ in range(_WORD_SNAP):
        if last < we < len(text) and _is_word_char(text[we - 1]) and _is_word_char(text[we]):
            we -= 1
    parts = ["…"] if ws > 0 else []
    pos = ws
    for m in inside:
        parts.append(_plain(text[pos : m.start]))
        parts.append(f"<em>{_plain(text[m.start : m.end])}</em>")
        pos = m.end
    parts.append(_plain(text[pos:we]))
    if we < len(text):
        parts.append("…")
    return "".join(parts).strip()


def _plain(piece: str) -> str:
    return html.escape(_WHITESPACE.sub(" ", piece), quote=False)
