"""Builtin tools: text. Pure string work on the caller's input; nothing is fetched or stored.

Regular expressions and Jinja2 templates run in a short-lived child Python process with a
wall-clock timeout and a memory limit. A thread with `asyncio.wait_for` cannot stop them:
`re` holds the GIL for the whole match, so one catastrophic pattern such as `(a+)+$`, or even
`\\s*$` over a long text, would freeze the server's event loop; Jinja2 loops and arithmetic
can run as long. A child process can be killed when its time is up.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag
from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tiangong.runtime.tools.base import Tool, ToolError
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool

MAX_TEXT = 200_000
MAX_HTML = 1_000_000
MAX_PATTERN = 2_000
MAX_TEMPLATE = 50_000
MAX_TEMPLATE_VARIABLES_JSON = 1_000_000
MAX_OUTPUT = 1_000_000
MAX_SIMILARITY_TEXT = 50_000
# difflib is quadratic in lines; 10,000 differing lines take about 2 s.
MAX_DIFF_LINES = 10_000
# Estimated inner-loop steps of SequenceMatcher without its junk heuristic; past this, the
# heuristic is used and the ratio is marked approximate.
MAX_EXACT_RATIO_COST = 2_000_000
# Past this combined length the ratio is taken over word tokens rather than characters.
MAX_CHAR_RATIO = 6_000
REGEX_TIMEOUT_S = 2.0
TEMPLATE_TIMEOUT_S = 5.0
# Address-space limit for the child process (bytes).
CHILD_MEMORY = 1 << 30

Text = Annotated[str, Field(max_length=MAX_TEXT, description="The input text.")]
RegexFlags = Annotated[
    str,
    Field(
        default="",
        pattern=r"^[imsx]*$",
        max_length=4,
        description="Any of i (ignore case), m (^ and $ match at line breaks), "
        "s (. matches newlines), x (verbose).",
    ),
]

# Han ideographs, kana and hangul: each is roughly one token and one "word".
_CJK_CHARS = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ebef"
)
_CJK = re.compile(f"[{_CJK_CHARS}]")
# Letters and digits of other scripts, joined across an apostrophe: "don't" is one word.
_WORD = re.compile(f"[^\\W_{_CJK_CHARS}]+(?:['’][^\\W_{_CJK_CHARS}]+)*")
_TOKEN = re.compile(f"[{_CJK_CHARS}]+|[^\\W_{_CJK_CHARS}]+")
_CLOSERS = "\"'”’)）\\]】」』》"
# Chinese terminators always end a sentence; . ! ? only before whitespace or the end, so
# "3.14" and "example.com" stay whole. A blank line ends a sentence too.
_SENTENCE_END = re.compile(
    f"(?:[。！？]+|[.!?]+(?=[{_CLOSERS}]*(?:\\s|$)))[{_CLOSERS}]*|\\n[ \\t]*\\n\\s*"
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def split_sentences(text: str) -> list[str]:
    """Sentences of English and Chinese text, stripped, without empty ones."""
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[start : match.end()].strip()
        if piece:
            parts.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


# --- isolated execution -----------------------------------------------------------------------

_CHILD_PRELUDE = f"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({CHILD_MEMORY}, {CHILD_MEMORY}))
"""
# The program defines run(job) -> {"error": message} or a result. Anything it did not expect
# is reported as a failure; there is nothing else to protect inside the child.
_CHILD_EPILOGUE = """
try:
    out = run(json.load(sys.stdin))
except MemoryError:
    out = {"failure": "it needed more memory than allowed"}
except Exception as exc:
    out = {"failure": f"{type(exc).__name__}: {exc}"}
sys.stdout.write(json.dumps(out))
"""

_REGEX_PROGRAM = r"""
import re

def run(job):
    flags = 0
    for letter in job["flags"]:
        flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[letter]
    try:
        rx = re.compile(job["pattern"], flags)
    except (re.error, OverflowError, RecursionError) as exc:
        return {"error": f"invalid regular expression: {exc}"}
    text = job["text"]
    if job["op"] == "match":
        found, truncated = [], False
        for m in rx.finditer(text):
            if len(found) == job["limit"]:
                truncated = True
                break
            found.append({"match": m.group(0), "start": m.start(), "end": m.end(),
                          "groups": list(m.groups()), "named": m.groupdict()})
        return {"matches": found, "truncated": truncated}
    budget = [job["max_output"]]
    def expand(m):
        piece = m.expand(job["replacement"])
        budget[0] -= len(piece)
        if budget[0] < 0:
            raise OverflowError
        return piece
    try:
        result, count = rx.subn(expand, text, count=job["count"])
    except (re.error, IndexError) as exc:
        return {"error": f"invalid replacement: {exc}"}
    except OverflowError:
        return {"error": "the replaced text would be too long"}
    return {"text": result, "replacements": count}
"""

_TEMPLATE_PROGRAM = r"""
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

def run(job):
    env = SandboxedEnvironment(
        undefined=StrictUndefined if job["strict"] else Undefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    try:
        template = env.from_string(job["template"])
    except TemplateSyntaxError as exc:
        return {"error": f"template syntax error on line {exc.lineno}: {exc.message}"}
    parts, size = [], 0
    try:
        for chunk in template.generate(job["variables"]):
            size += len(chunk)
            if size > job["max_output"]:
                return {"error": f"the rendered text is longer than {job['max_output']} characters"}
            parts.append(chunk)
    except UndefinedError as exc:
        return {"error": f"undefined variable: {exc.message}"}
    except SecurityError as exc:
        return {"error": f"not allowed in the template sandbox: {exc}"}
    except TemplateSyntaxError as exc:
        return {"error": f"template syntax error on line {exc.lineno}: {exc.message}"}
    except TemplateError as exc:
        return {"error": f"template error: {exc}"}
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        return {"error": f"template rendering failed: {type(exc).__name__}: {exc}"}
    return {"text": "".join(parts)}
"""


_REGEX_HINT = (
    "avoid nested or overlapping quantifiers such as (a+)+ or \\s*\\s*, anchor the pattern, "
    "or search less text."
)


async def run_isolated(
    program: str, job: dict[str, Any], *, timeout_s: float, what: str, hint: str, site: bool
) -> dict[str, Any]:
    """Call `run(job)` as defined by `program` in a fresh interpreter, limited to `timeout_s`
    seconds and CHILD_MEMORY bytes, and return its JSON reply. `site` makes installed
    packages importable; without it the child starts faster. `what` and `hint` word the
    errors."""
    flags = ["-I"] if site else ["-I", "-S"]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *flags,
            "-c",
            _CHILD_PRELUDE + program + _CHILD_EPILOGUE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ToolError(f"Could not start the {what}: {exc}") from exc
    try:
        async with asyncio.timeout(timeout_s):
            stdout, _ = await process.communicate(json.dumps(job).encode())
    except TimeoutError:
        raise ToolError(
            f"The {what} took longer than {timeout_s:g} s and was stopped; {hint}"
        ) from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    try:
        reply: dict[str, Any] = json.loads(stdout)
    except ValueError:
        raise ToolError(f"The {what} failed (it may have run out of memory).") from None
    if "error" in reply:
        raise ToolError(str(reply["error"]))
    if "failure" in reply:
        raise ToolError(f"The {what} failed: {reply['failure']}")
    return reply


# --- regex_match ------------------------------------------------------------------------------


class RegexMatchInput(_Input):
    text: Text
    pattern: str = Field(
        min_length=1, max_length=MAX_PATTERN, description="Python regular expression."
    )
    flags: RegexFlags
    max_matches: int = Field(
        default=100, ge=1, le=1000, description="Stop after this many matches."
    )


class RegexMatchItem(BaseModel):
    match: str
    start: int = Field(description="Character offset where the match starts.")
    end: int = Field(description="Character offset just past the match.")
    groups: list[str | None] = Field(description="Numbered groups; null if a group took no part.")
    named: dict[str, str | None] = Field(description="Named groups (?P<name>...).")


class RegexMatchOutput(BaseModel):
    matches: list[RegexMatchItem]
    count: int
    truncated: bool = Field(description="True when more matches exist beyond max_matches.")


@builtin_tool
class RegexMatch(Tool):
    name = "regex_match"
    description = (
        "Find all non-overlapping matches of a Python regular expression in a text (up to "
        "200,000 characters), with each match's offsets, numbered and named groups. Flags: "
        "i, m, s, x. Returns at most max_matches (≤1000); a search running over 2 s is stopped."
    )
    category = "text"
    Input = RegexMatchInput
    Output = RegexMatchOutput

    async def run(self, args: RegexMatchInput, ctx: ToolContext) -> RegexMatchOutput:
        reply = await run_isolated(
            _REGEX_PROGRAM,
            {
                "op": "match",
                "pattern": args.pattern,
                "flags": args.flags,
                "text": args.text,
                "limit": args.max_matches,
            },
            timeout_s=REGEX_TIMEOUT_S,
            what="regular expression search",
            hint=_REGEX_HINT,
            site=False,
        )
        matches = [RegexMatchItem.model_validate(m) for m in reply["matches"]]
        return RegexMatchOutput(matches=matches, count=len(matches), truncated=reply["truncated"])


# --- regex_replace ----------------------------------------------------------------------------


class RegexReplaceInput(_Input):
    text: Text
    pattern: str = Field(
        min_length=1, max_length=MAX_PATTERN, description="Python regular expression."
    )
    replacement: str = Field(
        max_length=10_000,
        description=r"Replacement text; \1 or \g<name> insert groups, \\ is a backslash.",
    )
    flags: RegexFlags
    count: int = Field(
        default=0, ge=0, le=1_000_000, description="Replace at most this many; 0 = all."
    )


class RegexReplaceOutput(BaseModel):
    text: str
    replacements: int = Field(description="How many matches were replaced.")


@builtin_tool
class RegexReplace(Tool):
    name = "regex_replace"
    description = (
        "Replace matches of a Python regular expression in a text (up to 200,000 characters); "
        r"the replacement may use \1 or \g<name> group references. count limits replacements "
        "(0 = all). A replacement running over 2 s is stopped."
    )
    category = "text"
    Input = RegexReplaceInput
    Output = RegexReplaceOutput

    async def run(self, args: RegexReplaceInput, ctx: ToolContext) -> RegexReplaceOutput:
        reply = await run_isolated(
            _REGEX_PROGRAM,
            {
                "op": "replace",
                "pattern": args.pattern,
                "flags": args.flags,
                "text": args.text,
                "replacement": args.replacement,
                "count": args.count,
                "max_output": MAX_OUTPUT,
            },
            timeout_s=REGEX_TIMEOUT_S,
            what="regular expression replacement",
            hint=_REGEX_HINT,
            site=False,
        )
        return RegexReplaceOutput(text=reply["text"], replacements=reply["replacements"])


# --- text_split -------------------------------------------------------------------------------


class TextSplitInput(_Input):
    text: Text
    mode: Literal["delimiter", "lines", "sentences", "chunks"] = Field(
        description="delimiter: split on `delimiter`; lines: on line breaks; sentences: "
        "after 。！？ and . ! ? (and blank lines); chunks: fixed-size pieces of chunk_size "
        "characters."
    )
    delimiter: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Literal separator, required for mode=delimiter.",
    )
    chunk_size: int = Field(
        default=1000, ge=1, le=100_000, description="Characters per chunk (mode=chunks)."
    )
    overlap: int = Field(
        default=0, ge=0, le=50_000, description="Characters shared by neighbouring chunks."
    )
    strip: bool = Field(default=True, description="Strip whitespace around each part.")
    drop_empty: bool = Field(default=True, description="Leave out empty parts.")
    max_parts: int = Field(default=1000, ge=1, le=10_000, description="Return at most this many.")

    @model_validator(mode="after")
    def _check_mode(self) -> TextSplitInput:
        if self.mode == "delimiter" and self.delimiter is None:
            raise ValueError("mode=delimiter needs a delimiter")
        if self.mode == "chunks" and self.overlap >= self.chunk_size:
            raise ValueError("overlap must be smaller than chunk_size")
        return self


class TextSplitOutput(BaseModel):
    parts: list[str]
    count: int = Field(description="Number of parts returned.")
    total: int = Field(description="Number of parts before the max_parts cut.")
    truncated: bool


@builtin_tool
class TextSplit(Tool):
    name = "text_split"
    description = (
        "Split a text (up to 200,000 characters) by a literal delimiter, into lines, into "
        "sentences (Chinese 。！？ and English . ! ?), or into fixed-size character chunks "
        "with optional overlap. Returns at most max_parts (≤10,000) parts."
    )
    category = "text"
    Input = TextSplitInput
    Output = TextSplitOutput

    async def run(self, args: TextSplitInput, ctx: ToolContext) -> TextSplitOutput:
        if args.mode == "delimiter":
            assert args.delimiter is not None
            parts = args.text.split(args.delimiter)
        elif args.mode == "lines":
            parts = args.text.splitlines()
        elif args.mode == "sentences":
            parts = split_sentences(args.text)
        else:
            step = args.chunk_size - args.overlap
            parts = [
                args.text[i : i + args.chunk_size]
                for i in range(0, max(len(args.text) - args.overlap, 1), step)
            ]
        if args.strip:
            parts = [p.strip() for p in parts]
        if args.drop_empty:
            parts = [p for p in parts if p]
        kept = parts[: args.max_parts]
        return TextSplitOutput(
            parts=kept, count=len(kept), total=len(parts), truncated=len(parts) > len(kept)
        )


# --- text_stats -------------------------------------------------------------------------------


class TextStatsInput(_Input):
    text: Text


class TextStatsOutput(BaseModel):
    characters: int
    characters_no_spaces: int
    cjk_characters: int = Field(description="Chinese, Japanese and Korean characters.")
    words: int = Field(description="Words outside CJK scripts; CJK characters are not words here.")
    lines: int
    paragraphs: int = Field(description="Blocks separated by blank lines.")
    sentences: int
    bytes_utf8: int
    estimated_tokens: int = Field(
        description="About one token per CJK character plus one per 4 other characters."
    )


@builtin_tool
class TextStats(Tool):
    name = "text_stats"
    description = (
        "Count a text's characters, CJK characters, words, lines, paragraphs, sentences and "
        "UTF-8 bytes, and estimate its LLM tokens (CJK character ≈ 1 token, other text ≈ 1 "
        "per 4 characters). Text up to 200,000 characters."
    )
    category = "text"
    Input = TextStatsInput
    Output = TextStatsOutput

    async def run(self, args: TextStatsInput, ctx: ToolContext) -> TextStatsOutput:
        text = args.text
        cjk = len(_CJK.findall(text))
        return TextStatsOutput(
            characters=len(text),
            characters_no_spaces=sum(1 for c in text if not c.isspace()),
            cjk_characters=cjk,
            words=len(_WORD.findall(text)),
            lines=len(text.splitlines()),
            paragraphs=sum(1 for p in _PARAGRAPH_BREAK.split(text) if p.strip()),
            sentences=len(split_sentences(text)),
            bytes_utf8=len(text.encode("utf-8", errors="replace")),
            estimated_tokens=cjk + math.ceil((len(text) - cjk) / 4),
        )


# --- text_case --------------------------------------------------------------------------------

# "XMLHttpRequest" -> XML, Http, Request; "user_id2" -> user, id, 2.
_CASE_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^\W\d_A-Za-z]+")
_TITLE_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


class TextCaseInput(_Input):
    text: Text
    mode: Literal["upper", "lower", "title", "snake", "camel", "kebab"] = Field(
        description="upper, lower, title (Each Word Capitalised), snake (snake_case), "
        "camel (camelCase) or kebab (kebab-case)."
    )


class TextCaseOutput(BaseModel):
    text: str


@builtin_tool
class TextCase(Tool):
    name = "text_case"
    description = (
        "Change the case of a text: upper, lower, title, or turn it into an identifier in "
        "snake_case, camelCase or kebab-case (word boundaries come from spaces, punctuation "
        "and existing camelCase). Text up to 200,000 characters."
    )
    category = "text"
    Input = TextCaseInput
    Output = TextCaseOutput

    async def run(self, args: TextCaseInput, ctx: ToolContext) -> TextCaseOutput:
        text = args.text
        if args.mode == "upper":
            return TextCaseOutput(text=text.upper())
        if args.mode == "lower":
            return TextCaseOutput(text=text.lower())
        if args.mode == "title":
            return TextCaseOutput(
                text=_TITLE_WORD.sub(lambda m: m[0][:1].upper() + m[0][1:].lower(), text)
            )
        words = [w.lower() for w in _CASE_WORD.findall(text)]
        if args.mode == "snake":
            return TextCaseOutput(text="_".join(words))
        if args.mode == "kebab":
            return TextCaseOutput(text="-".join(words))
        return TextCaseOutput(text="".join(words[:1] + [w[:1].upper() + w[1:] for w in words[1:]]))


# --- text_diff --------------------------------------------------------------------------------


class TextDiffInput(_Input):
    old: str = Field(max_length=MAX_TEXT, description="The original text.")
    new: str = Field(max_length=MAX_TEXT, description="The changed text.")
    old_name: str = Field(default="old", max_length=200, description="Label for the original.")
    new_name: str = Field(default="new", max_length=200, description="Label for the change.")
    context: int = Field(default=3, ge=0, le=50, description="Unchanged lines around changes.")


class TextDiffOutput(BaseModel):
    diff: str = Field(description="Unified diff; empty when the texts are equal.")
    changed: bool
    lines_added: int
    lines_removed: int


def _unified_diff(args: TextDiffInput) -> list[str]:
    old, new = args.old.splitlines(), args.new.splitlines()
    if max(len(old), len(new)) > MAX_DIFF_LINES:
        raise ToolError(f"Each text may have at most {MAX_DIFF_LINES} lines to diff.")
    return list(
        difflib.unified_diff(
            old,
            new,
            fromfile=args.old_name,
            tofile=args.new_name,
            n=args.context,
            lineterm="",
        )
    )


@builtin_tool
class TextDiff(Tool):
    name = "text_diff"
    description = (
        "Compare two texts line by line and return a unified diff (like `diff -u`) with "
        "counts of added and removed lines. Each text up to 200,000 characters."
    )
    category = "text"
    Input = TextDiffInput
    Output = TextDiffOutput

    async def run(self, args: TextDiffInput, ctx: ToolContext) -> TextDiffOutput:
        lines = await asyncio.to_thread(_unified_diff, args)
        body = lines[2:]
        return TextDiffOutput(
            diff="\n".join(lines),
            changed=bool(lines),
            lines_added=sum(1 for line in body if line.startswith("+")),
            lines_removed=sum(1 for line in body if line.startswith("-")),
        )


# --- text_template ----------------------------------------------------------------------------


class TextTemplateInput(_Input):
    template: str = Field(
        max_length=MAX_TEMPLATE,
        description="Jinja2 template, e.g. 'Hello {{ name }}! {% for x in items %}{{ x }} "
        "{% endfor %}'.",
    )
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Values the template can use, by name."
    )
    strict: bool = Field(
        default=True, description="Fail on undefined variables instead of rendering them empty."
    )


class TextTemplateOutput(BaseModel):
    text: str


@builtin_tool
class TextTemplate(Tool):
    name = "text_template"
    description = (
        "Render a Jinja2 template (up to 50,000 characters) with the given variables in a "
        "sandbox: filters, loops and conditions work; attribute tricks, file and network "
        "access do not. Undefined variables are errors unless strict=false; rendering is "
        "stopped after 5 s or 1,000,000 output characters."
    )
    category = "text"
    Input = TextTemplateInput
    Output = TextTemplateOutput

    async def run(self, args: TextTemplateInput, ctx: ToolContext) -> TextTemplateOutput:
        try:
            size = len(json.dumps(args.variables))
        except (TypeError, ValueError) as exc:
            raise ToolError(f"variables must be plain JSON values: {exc}") from exc
        if size > MAX_TEMPLATE_VARIABLES_JSON:
            raise ToolError(
                f"variables are too large ({size} characters of JSON; at most "
                f"{MAX_TEMPLATE_VARIABLES_JSON})"
            )
        reply = await run_isolated(
            _TEMPLATE_PROGRAM,
            {
                "template": args.template,
                "variables": args.variables,
                "strict": args.strict,
                "max_output": MAX_OUTPUT,
            },
            timeout_s=TEMPLATE_TIMEOUT_S,
            what="template rendering",
            hint="render fewer loop iterations or smaller numbers.",
            site=True,
        )
        return TextTemplateOutput(text=reply["text"])


# --- text_extract -----------------------------------------------------------------------------

# Starting only where a run of address characters starts keeps the search linear.
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL = re.compile(
    r"(?:\b(?:https?|ftp)://|(?<![\w.@/])www\.)"
    r"[^\s<>\"'`{}|\\^\u3000-\u303f\uff00-\uffef\u4e00-\u9fff]+",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\d+])(?:"
    r"(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{4}){2}"  # Chinese mobile
    r"|\+\d{1,3}[-\s.]?\(?\d{1,4}\)?(?:[-\s.]?\d{2,4}){2,4}"  # international
    r"|\(?0\d{2,3}\)?[-\s]\d{7,8}"  # Chinese landline, 010-12345678
    r"|\(\d{3}\)\s?\d{3}[-.\s]\d{4}|\d{3}[-.]\d{3}[-.]\d{4}"  # North American
    r")(?!\d)"
)
_NUMBER = re.compile(
    r"(?<![\d.])(?:(?<![0-9A-Za-z])[-+])?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?%?"
)
_WEIBO_TAG = re.compile(r"#([^#\s][^#\n]{0,48}?)#")
_HASHTAG = re.compile(r"(?<![\w#&])#(\w+)")
_URL_TRAILING = ".,;:!?'\""

ExtractKind = Literal["emails", "urls", "phones", "numbers", "hashtags"]


class TextExtractInput(_Input):
    text: Text
    kinds: list[ExtractKind] = Field(
        default=["emails", "urls", "phones", "numbers", "hashtags"],
        min_length=1,
        max_length=5,
        description="What to extract; all kinds by default.",
    )
    unique: bool = Field(default=True, description="Drop repeats, keeping first-seen order.")
    max_per_kind: int = Field(default=100, ge=1, le=1000, description="Cap for each list.")


class TextExtractOutput(BaseModel):
    emails: list[str]
    urls: list[str]
    phones: list[str] = Field(
        description="Chinese mobile (1[3-9] + 9 digits) and landline, international, "
        "North American numbers."
    )
    numbers: list[str] = Field(description="Numbers as written, e.g. '1,234.5', '-3', '12%'.")
    hashtags: list[str] = Field(description="#tag and Weibo-style #话题# tags, without '#'.")


def _clean_url(url: str) -> str:
    while url:
        last = url[-1]
        if last in _URL_TRAILING:
            url = url[:-1]
        elif last == ")" and url.count("(") < url.count(")"):
            url = url[:-1]
        elif last == "]" and url.count("[") < url.count("]"):
            url = url[:-1]
        else:
            break
    return url


def _hashtags(text: str) -> list[str]:
    tags: list[tuple[int, str]] = []
    spans: list[tuple[int, int]] = []
    for m in _WEIBO_TAG.finditer(text):
        if _CJK.search(m[1]):
            tags.append((m.start(), m[1].strip()))
            spans.append(m.span())
    for m in _HASHTAG.finditer(text):
        inside = any(start <= m.start() < end for start, end in spans)
        if not inside and not m[1].isdigit():
            tags.append((m.start(), m[1]))
    return [tag for _, tag in sorted(tags)]


@builtin_tool
class TextExtract(Tool):
    name = "text_extract"
    description = (
        "Extract emails, URLs, phone numbers (including Chinese mobile and landline numbers), "
        "numbers and hashtags from a text of up to 200,000 characters. Choose kinds; each "
        "list holds at most max_per_kind items."
    )
    category = "text"
    Input = TextExtractInput
    Output = TextExtractOutput

    async def run(self, args: TextExtractInput, ctx: ToolContext) -> TextExtractOutput:
        text = args.text
        found: dict[str, list[str]] = {kind: [] for kind in TextExtractOutput.model_fields}
        if "emails" in args.kinds:
            found["emails"] = [m.rstrip(".-") for m in _EMAIL.findall(text)]
        if "urls" in args.kinds:
            found["urls"] = [u for u in (_clean_url(m) for m in _URL.findall(text)) if u]
        if "phones" in args.kinds:
            found["phones"] = [m.strip() for m in _PHONE.findall(text)]
        if "numbers" in args.kinds:
            found["numbers"] = _NUMBER.findall(text)
        if "hashtags" in args.kinds:
            found["hashtags"] = _hashtags(text)
        for kind, items in found.items():
            if args.unique:
                items = list(dict.fromkeys(items))
            found[kind] = items[: args.max_per_kind]
        return TextExtractOutput(**found)


# --- text_similarity --------------------------------------------------------------------------


class TextSimilarityInput(_Input):
    a: str = Field(max_length=MAX_SIMILARITY_TEXT, description="First text.")
    b: str = Field(max_length=MAX_SIMILARITY_TEXT, description="Second text.")
    ignore_case: bool = True


class TextSimilarityOutput(BaseModel):
    ratio: float = Field(
        description="difflib sequence ratio in [0, 1]: order-aware, 1 means identical."
    )
    ratio_basis: Literal["characters", "tokens"] = Field(
        description="Characters for short texts; word tokens past 6,000 combined characters."
    )
    approximate: bool = Field(
        description="True when very repetitive input made difflib skip common elements."
    )
    jaccard: float = Field(
        description="Shared / all distinct tokens in [0, 1]; tokens are words, and "
        "character bigrams inside Chinese/Japanese/Korean text."
    )
    shared_tokens: int
    tokens_a: int
    tokens_b: int


def _sequence_tokens(text: str) -> list[str]:
    """Words, and single CJK characters, in order."""
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        tokens.extend(token if _CJK.match(token) else [token])
    return tokens


def _token_set(text: str) -> set[str]:
    """Words, and bigrams of CJK runs (a lone CJK character stands for itself)."""
    tokens: set[str] = set()
    for token in _TOKEN.findall(text):
        if _CJK.match(token) and len(token) > 1:
            tokens.update(token[i : i + 2] for i in range(len(token) - 1))
        else:
            tokens.add(token)
    return tokens


def _sequence_ratio(a: Sequence[str], b: Sequence[str]) -> tuple[float, bool]:
    """difflib's ratio, exact unless repeated elements would make it too slow."""
    counts_b = Counter(b)
    cost = sum(n * counts_b[item] for item, n in Counter(a).items())
    exact = cost <= MAX_EXACT_RATIO_COST
    return difflib.SequenceMatcher(None, a, b, autojunk=not exact).ratio(), not exact


def _similarity(a: str, b: str) -> TextSimilarityOutput:
    basis: Literal["characters", "tokens"] = "characters"
    if len(a) + len(b) <= MAX_CHAR_RATIO:
        ratio, approximate = _sequence_ratio(a, b)
    else:
        basis = "tokens"
        ratio, approximate = _sequence_ratio(_sequence_tokens(a), _sequence_tokens(b))
    set_a, set_b = _token_set(a), _token_set(b)
    union = set_a | set_b
    shared = len(set_a & set_b)
    return TextSimilarityOutput(
        ratio=round(ratio, 6),
        ratio_basis=basis,
        approximate=approximate,
        jaccard=round(shared / len(union), 6) if union else 1.0,
        shared_tokens=shared,
        tokens_a=len(set_a),
        tokens_b=len(set_b),
    )


@builtin_tool
class TextSimilarity(Tool):
    name = "text_similarity"
    description = (
        "Measure how similar two texts are (each up to 50,000 characters): a difflib sequence "
        "ratio and a Jaccard score over word tokens, using character bigrams for Chinese, "
        "Japanese and Korean. Both scores are in [0, 1]."
    )
    category = "text"
    Input = TextSimilarityInput
    Output = TextSimilarityOutput

    async def run(self, args: TextSimilarityInput, ctx: ToolContext) -> TextSimilarityOutput:
        a, b = (args.a.lower(), args.b.lower()) if args.ignore_case else (args.a, args.b)
        return await asyncio.to_thread(_similarity, a, b)


# --- html_to_text -----------------------------------------------------------------------------

_DROPPED_TAGS = frozenset(("script", "style", "noscript", "template", "head", "svg", "iframe"))
_BLOCK_TAGS = frozenset(
    (
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
    )
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


class HtmlToTextInput(_Input):
    html: str = Field(max_length=MAX_HTML, description="HTML source, up to 1,000,000 characters.")
    include_links: bool = Field(default=False, description="Also list the links (text, href).")


class HtmlLink(BaseModel):
    text: str
    href: str


class HtmlToTextOutput(BaseModel):
    text: str
    title: str | None
    links: list[HtmlLink] = Field(description="Up to 500 links when include_links is set.")


def _readable_text(root: Tag) -> str:
    """Text of the tree in document order, walked without recursion (pages can nest deeply)
    and without editing it (inserting markers is quadratic in the number of siblings)."""
    out: list[str] = []
    stack: list[PageElement | str] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, NavigableString):
            # Comments, doctypes and processing instructions are not text a reader sees.
            if not isinstance(node, PreformattedString):
                out.append(str(node))
        elif isinstance(node, Tag):
            if node.name in _DROPPED_TAGS:
                continue
            if node.name == "br":
                out.append("\n")
                continue
            if node.name in _BLOCK_TAGS:
                out.append("\n\n")
                stack.append("\n\n")
            elif node.name in ("td", "th"):
                stack.append("\t")
            stack.extend(reversed(node.contents))
        elif isinstance(node, str):
            out.append(node)
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(out).split("\n"))
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def _html_to_text(html: str, include_links: bool) -> HtmlToTextOutput:
    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    links: list[HtmlLink] = []
    if include_links:
        for anchor in soup.find_all("a", href=True, limit=500):
            href = anchor.get("href") if isinstance(anchor, Tag) else None
            if isinstance(href, str):
                links.append(HtmlLink(text=anchor.get_text(" ", strip=True), href=href.strip()))
    return HtmlToTextOutput(text=_readable_text(soup), title=title or None, links=links)


@builtin_tool
class HtmlToText(Tool):
    name = "html_to_text"
    description = (
        "Turn HTML (up to 1,000,000 characters) into readable plain text: scripts, styles and "
        "the head are dropped, paragraphs and other blocks become blank-line-separated, <br> a "
        "line break. Returns the <title> separately and, optionally, the links."
    )
    category = "text"
    Input = HtmlToTextInput
    Output = HtmlToTextOutput

    async def run(self, args: HtmlToTextInput, ctx: ToolContext) -> HtmlToTextOutput:
        try:
            return await asyncio.to_thread(_html_to_text, args.html, args.include_links)
        except RecursionError:
            raise ToolError("The HTML is nested too deeply to convert.") from None


# --- markdown_to_html -------------------------------------------------------------------------


class MarkdownToHtmlInput(_Input):
    markdown: str = Field(max_length=MAX_TEXT, description="Markdown text (CommonMark).")
    breaks: bool = Field(default=False, description="Turn single line breaks into <br>.")


class MarkdownToHtmlOutput(BaseModel):
    html: str


@builtin_tool
class MarkdownToHtml(Tool):
    name = "markdown_to_html"
    description = (
        "Convert Markdown (CommonMark plus tables and ~~strikethrough~~, up to 200,000 "
        "characters) to HTML. Raw HTML in the input is escaped, not passed through, and "
        "javascript: links are not turned into links."
    )
    category = "text"
    Input = MarkdownToHtmlInput
    Output = MarkdownToHtmlOutput

    async def run(self, args: MarkdownToHtmlInput, ctx: ToolContext) -> MarkdownToHtmlOutput:
        parser = MarkdownIt("commonmark", {"html": False, "breaks": args.breaks}).enable(
            ["table", "strikethrough"]
        )
        try:
            html = await asyncio.to_thread(parser.render, args.markdown)
        except RecursionError:
            raise ToolError("The Markdown is nested too deeply to convert.") from None
        return MarkdownToHtmlOutput(html=html)
