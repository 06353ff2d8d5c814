"""Splits a parsed document into chunks that respect headings, lines and sentences.

Units are headings, then sentences within each line (a line break always ends a unit, so table
rows and list items stay whole). Units are packed greedily up to the token budget; a heading
starts a new chunk so every chunk belongs to one section. Only a unit larger than the whole
budget is cut, preferably at a space or comma.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tiangong.runtime.agent.tokens import count_tokens
from tiangong.runtime.rag.types import Chunk, ParsedDocument

_HEADING = re.compile(r" {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*")
_FENCE = re.compile(r" {0,3}(```|~~~)")
_CLOSERS = "\"'”’」』）)\\]】》"
# Chinese enders end a sentence wherever they are. English . ! ? end one only before whitespace
# that is not followed by a lowercase letter (so "e.g. the" and "3.5" stay whole) or at the end
# of the line. Closing quotes and brackets stay with their sentence.
_END = re.compile(
    rf"(?:[。！？；]+|…+)[{_CLOSERS}]*"
    rf"|[.!?]+[{_CLOSERS}]*(?=\s+(?![a-z\s])|\s*$)"
)
_SOFT_BREAK = frozenset(" \t,，、;；:：")


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    is_heading: bool
    # The nearest heading at or above this unit.
    section: str | None


def chunk(doc: ParsedDocument, *, chunk_tokens: int = 400, overlap_tokens: int = 50) -> list[Chunk]:
    """Chunks of at most `chunk_tokens` (by `count_tokens`), each repeating about
    `overlap_tokens` of trailing whole sentences from the chunk before it in the same section.
    `Chunk.text` is exactly `doc.text[start:end]`."""
    if chunk_tokens < 1:
        raise ValueError("chunk_tokens must be at least 1")
    if not 0 <= overlap_tokens < chunk_tokens:
        raise ValueError("overlap_tokens must be at least 0 and below chunk_tokens")
    text = doc.text
    packed: list[list[_Unit]] = []
    current: list[_Unit] = []
    for unit in _units(text, chunk_tokens):
        if unit.is_heading and not all(u.is_heading for u in current):
            packed.append(current)
            current = []
        elif current and count_tokens(text[current[0].start : unit.end]) > chunk_tokens:
            packed.append(current)
            current = _overlap(text, current, unit, overlap_tokens, chunk_tokens)
        current.append(unit)
    if current:
        packed.append(current)
    return [_make_chunk(text, i, units) for i, units in enumerate(packed)]


def _make_chunk(text: str, index: int, units: list[_Unit]) -> Chunk:
    start, end = units[0].start, units[-1].end
    body = [u for u in units if not u.is_heading]
    heading = (body[0] if body else units[-1]).section
    piece = text[start:end]
    return Chunk(index, piece, count_tokens(piece), start, end, heading)


def _overlap(
    text: str, previous: list[_Unit], nxt: _Unit, overlap_tokens: int, chunk_tokens: int
) -> list[_Unit]:
    """Trailing whole sentences of `previous` to repeat, never all of it (chunks must move on)."""
    tail: list[_Unit] = []
    total = 0
    for unit in reversed(previous[1:]):
        if unit.is_heading or total + unit.tokens > overlap_tokens:
            break
        tail.insert(0, unit)
        total += unit.tokens
    while tail and count_tokens(text[tail[0].start : nxt.end]) > chunk_tokens:
        tail.pop(0)
    return tail


def _units(text: str, budget: int) -> Iterator[_Unit]:
    section: str | None = None
    in_fence = False
    pos = 0
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        content = text[start:end]
        if _FENCE.match(content):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.fullmatch(content)
        if heading is not None and heading.group(2):
            section = heading.group(2)
            yield _Unit(start, end, count_tokens(content), True, section)
            continue
        for a, b in _sentences(text, start, end):
            tokens = count_tokens(text[a:b])
            if tokens <= budget:
                yield _Unit(a, b, tokens, False, section)
                continue
            for c, d in _hard_split(text, a, b, budget):
                yield _Unit(c, d, count_tokens(text[c:d]), False, section)


def _sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    pos = start
    for match in _END.finditer(text, start, end):
        yield from _trimmed(text, pos, match.end())
        pos = match.end()
    yield from _trimmed(text, pos, end)


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


def _hard_split(text: str, start: int, end: int, budget: int) -> Iterator[tuple[int, int]]:
    """Pieces of at most `budget` tokens, cut after a space or comma in the piece's second half
    when there is one."""
    while start < end:
        if count_tokens(text[start:end]) <= budget:
            yield from _trimmed(text, start, end)
            return
        # count_tokens grows with the slice, so search for the longest slice within budget.
        lo, hi = start + 1, end
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count_tokens(text[start:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        floor = start + (lo - start) // 2
        for i in range(lo, floor, -1):
            if text[i - 1] in _SOFT_BREAK:
                cut = i
                break
        yield from _trimmed(text, start, cut)
        start = cut
