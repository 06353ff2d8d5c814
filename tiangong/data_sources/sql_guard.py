"""The first of two locks on data source queries: only one read statement gets through.

The second is the database itself: every query runs in a read-only transaction, so a writing
function called from a SELECT fails there. This check keeps out what a read-only transaction
does not stop (SELECT ... INTO OUTFILE on MySQL, a second statement after COMMIT).
"""

from __future__ import annotations

import re

from tiangong.errors import BadRequest

READ_KEYWORDS = frozenset({"select", "with", "show", "explain", "describe", "desc", "values"})
# Keywords that write, lock or leave the statement, wherever they appear outside literals.
_REFUSED_WORDS = frozenset({"into", "outfile", "dumpfile", "for update", "for share", "lock in"})
_WORD = re.compile(r"[a-z_][a-z0-9_$]*")


class QueryNotReadOnly(BadRequest):
    code = "QUERY_NOT_READ_ONLY"


def _skip_quoted(sql: str, start: int) -> int:
    """Index after the literal or quoted name opening at start (', ", `)."""
    quote = sql[start]
    index = start + 1
    while index < len(sql):
        char = sql[index]
        if char == "\\" and quote == "'":
            index += 2
            continue
        if char == quote:
            if sql[index + 1 : index + 2] == quote:
                index += 2
                continue
            return index + 1
        index += 1
    raise QueryNotReadOnly("The statement has an unterminated quote")


def _skip_dollar(sql: str, start: int) -> int | None:
    """PostgreSQL $tag$...$tag$ literals; None when `$` does not open one."""
    match = re.match(r"\$([a-zA-Z_][a-zA-Z0-9_]*)?\$", sql[start:])
    if match is None:
        return None
    tag = match.group(0)
    end = sql.find(tag, start + len(tag))
    if end < 0:
        raise QueryNotReadOnly("The statement has an unterminated $-quoted string")
    return end + len(tag)


def code_words(sql: str) -> list[str]:
    """The statement's words outside literals, quoted names and comments, in lower case."""
    parts: list[str] = []
    index = 0
    while index < len(sql):
        char = sql[index]
        two = sql[index : index + 2]
        if char in "'\"`":
            index = _skip_quoted(sql, index)
            parts.append(" ? ")
        elif two == "--" or char == "#":
            newline = sql.find("\n", index)
            index = len(sql) if newline < 0 else newline + 1
            parts.append(" ")
        elif two == "/*":
            if sql[index + 2 : index + 3] in ("!", "+") or sql[index + 2 : index + 4] == "M!":
                # MySQL runs what is inside /*! ... */; hints change how a statement runs.
                raise QueryNotReadOnly("Executable comments (/*! */, /*+ */) are not allowed")
            end = sql.find("*/", index + 2)
            if end < 0:
                raise QueryNotReadOnly("The statement has an unterminated comment")
            index = end + 2
            parts.append(" ")
        elif char == "$" and (skipped := _skip_dollar(sql, index)) is not None:
            index = skipped
            parts.append(" ? ")
        else:
            parts.append(char)
            index += 1
    return _WORD.findall("".join(parts).lower())


def check_read_only(sql: str) -> str:
    """The statement without a trailing semicolon, if it is one read statement.
    Raises QueryNotReadOnly otherwise."""
    statement = sql.strip().rstrip(";").rstrip()
    if not statement:
        raise QueryNotReadOnly("The query is empty")
    # Refused even inside literals: no lexer quirk (NO_BACKSLASH_ESCAPES, say) can then split
    # the text into two statements.
    if ";" in statement:
        raise QueryNotReadOnly("Only one statement may be run; remove the ';'")
    words = code_words(statement)
    if not words or words[0] not in READ_KEYWORDS:
        raise QueryNotReadOnly("Only SELECT (WITH, SHOW, EXPLAIN, DESCRIBE) queries may be run")
    pairs = {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    refused = sorted((_REFUSED_WORDS & set(words)) | (_REFUSED_WORDS & pairs))
    if refused:
        raise QueryNotReadOnly(f"The query may not use {', '.join(refused).upper()}")
    return statement
