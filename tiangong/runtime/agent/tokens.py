"""Offline token estimates for context budgeting; no tokenizer files, no downloads."""

from __future__ import annotations

import re

from tiangong.runtime.llm import ChatMessage

# East Asian wide and fullwidth ranges (CJK, kana, Hangul, fullwidth forms, emoji):
# BPE vocabularies spend about one token on each of these characters.
_WIDE = re.compile(
    "[\u1100-\u115f\u2e80-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff"
    "\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6"
    "\U0001f300-\U0001f64f\U0001f900-\U0001f9ff\U00020000-\U0003fffd]"
)

# Role markers and separators each message costs in chat templates.
MESSAGE_OVERHEAD_TOKENS = 4


def count_tokens(text: str) -> int:
    """About one token per wide character and one per four other characters (rounded up)."""
    if text.isascii():
        return -(-len(text) // 4)
    wide = len(_WIDE.findall(text))
    return wide + -(-(len(text) - wide) // 4)


def message_tokens(message: ChatMessage) -> int:
    tokens = MESSAGE_OVERHEAD_TOKENS + count_tokens(message.content or "")
    for call in message.tool_calls or ():
        tokens += count_tokens(call.name) + count_tokens(call.arguments)
    return tokens
