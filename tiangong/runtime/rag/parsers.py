"""Text extraction from uploaded files, keeping the structure that helps retrieval.

Headings become lines of their own (`# Title`, `## Section`), table rows become `a | b | c`
lines, JSON becomes `path: value` lines, and paragraphs are separated by blank lines. Size
limits are the caller's job.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import PurePath
from typing import Any

from tiangong.runtime.rag.errors import DocumentParseFailed, EmptyDocument, UnsupportedFileType
from tiangong.runtime.rag.types import ParsedDocument

SUPPORTED_EXTENSIONS = ("txt", "md", "html", "htm", "pdf", "docx", "csv", "xlsx", "json")

_BY_EXTENSION = {
    "txt": "text",
    "text": "text",
    "md": "markdown",
    "markdown": "markdown",
    "html": "html",
    "htm": "html",
    "pdf": "pdf",
    "docx": "docx",
    "csv": "csv",
    "xlsx": "xlsx",
    "json": "json",
}
_BY_CONTENT_TYPE = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/json": "json",
    "text/json": "json",
}

# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"[ \t\u00a0\u3000]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_MD_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)


def parse(filename: str, data: bytes, content_type: str | None = None) -> ParsedDocument:
    """Extracts text, choosing the format by file extension, then by content type.

    Raises UnsupportedFileType, EmptyDocument (nothing to extract) or DocumentParseFailed
    (a corrupt file, or one that is not what its name says)."""
    kind, charset = _kind(filename, content_type)
    if not data.strip():
        raise EmptyDocument(f"'{filename}' is empty.")
    parser = _PARSERS[kind]
    try:
        doc = parser(data, charset)
    except (UnsupportedFileType, EmptyDocument, DocumentParseFailed):
        raise
    except Exception as exc:  # noqa: BLE001 - format libraries raise anything on bad input
        raise DocumentParseFailed(
            f"'{filename}' could not be read as {kind.upper()}: {type(exc).__name__}: "
            f"{str(exc)[:200]}"
        ) from exc
    text = _tidy(doc.text)
    if not text:
        hint = " (a scanned or image-only PDF needs OCR first)" if kind == "pdf" else ""
        raise EmptyDocument(f"'{filename}' contains no extractable text{hint}.")
    metadata = {"format": kind, **doc.metadata}
    title = doc.title.strip() if doc.title and doc.title.strip() else None
    return ParsedDocument(text=text, title=title, metadata=metadata)


def _kind(filename: str, content_type: str | None) -> tuple[str, str | None]:
    media, _, params = (content_type or "").partition(";")
    charset_match = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_\-]+)", params, re.I)
    charset = charset_match.group(1) if charset_match else None
    extension = PurePath(filename).suffix.lower().lstrip(".")
    kind = _BY_EXTENSION.get(extension) or _BY_CONTENT_TYPE.get(media.strip().lower())
    if kind is None:
        shown = f"'.{extension}'" if extension else f"'{media.strip() or 'unknown'}'"
        raise UnsupportedFileType(
            f"Unsupported file type {shown}. Supported: {', '.join(SUPPORTED_EXTENSIONS)}.",
            details={"supported": list(SUPPORTED_EXTENSIONS)},
        )
    return kind, charset


def decode_text(data: bytes, charset: str | None = None) -> str:
    """BOM, then UTF-8, then the declared charset, then GB18030 (Chinese files from Windows);
    never fails: the last resort replaces undecodable bytes."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    candidates = ["utf-8"]
    if charset:
        try:
            candidates.append(codecs.lookup(charset).name)
        except LookupError:
            pass
    candidates.append("gb18030")
    for encoding in candidates:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _first_heading(text: str) -> str | None:
    match = _MD_HEADING.search(text)
    return match.group(1) if match else None


def _parse_text(data: bytes, charset: str | None) -> ParsedDocument:
    return ParsedDocument(decode_text(data, charset))


def _parse_markdown(data: bytes, charset: str | None) -> ParsedDocument:
    text = _tidy(decode_text(data, charset))
    return ParsedDocument(text, title=_first_heading(text))


# --- HTML ---------------------------------------------------------------------------------

_HTML_SKIP = frozenset(
    "script style noscript template head svg iframe object canvas button select".split()
)
_HTML_BLOCKS = frozenset(
    "address article aside blockquote body caption dd details dialog div dl dt fieldset "
    "figcaption figure footer form header hr html li main nav ol p section summary ul".split()
)
_HTML_HEADINGS = {f"h{n}": n for n in range(1, 7)}


class _HtmlText:
    """Walks the tree, collecting blocks; inline text gathers until the next block boundary."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self._inline: list[str] = []

    def flush(self) -> None:
        lines = (line.strip() for line in "".join(self._inline).split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            self.blocks.append(text)
        self._inline = []

    def walk(self, node: Any, pre: bool = False) -> None:
        from bs4.element import NavigableString, PreformattedString, Tag

        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA
                continue
            if isinstance(child, NavigableString):
                self._inline.append(str(child) if pre else _SPACE.sub(" ", str(child)))
                continue
            if not isinstance(child, Tag) or child.name in _HTML_SKIP:
                continue
            name = child.name
            if name == "br":
                self._inline.append("\n")
            elif name in _HTML_HEADINGS:
                self.flush()
                text = _SPACE.sub(" ", child.get_text(" ", strip=True))
                if text:
                    self.blocks.append("#" * _HTML_HEADINGS[name] + " " + text)
            elif name == "table":
                self.flush()
                rows = "\n".join(_html_rows(child))
                if rows:
                    self.blocks.append(rows)
            elif name == "pre":
                self.flush()
                self.walk(child, pre=True)
                self.flush()
            elif name == "li":
                self.flush()
                self._inline.append("- ")
                self.walk(child, pre)
                self.flush()
            elif name in _HTML_BLOCKS:
                self.flush()
                self.walk(child, pre)
                self.flush()
            else:
                self.walk(child, pre)


def _html_rows(table: Any) -> Iterator[str]:
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue  # a nested table's row; its text is in the outer cell already
        cells = [
            _SPACE.sub(" ", cell.get_text(" ", strip=True))
            for cell in row.find_all(["td", "th"], recursive=False)
        ]
        if any(cells):
            yield " | ".join(cells)


def _parse_html(data: bytes, charset: str | None) -> ParsedDocument:
    from bs4 import BeautifulSoup

    if charset is None:
        declared = _META_CHARSET.search(data[:4096])
        charset = declared.group(1).decode("ascii") if declared else None
    soup = BeautifulSoup(decode_text(data, charset), "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else None
    walker = _HtmlText()
    walker.walk(soup)
    walker.flush()
    return ParsedDocument("\n\n".join(walker.blocks), title=title or None)


# --- PDF ----------------------------------------------------------------------------------

# A line continues the one before unless that ended a sentence; continuation lines start
# lowercase (English) or with a Han character (Chinese), so lists and tables are left alone.
_SENTENCE_END = tuple("。！？；：.!?:;")
_CONTINUES = re.compile(r"[a-z\u4e00-\u9fff]")
_HAN_END = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]$")


def _reflow(page: str) -> str:
    out: list[str] = []
    for raw in page.split("\n"):
        line = raw.strip()
        if not line:
            out.append("")
            continue
        previous = out[-1] if out else ""
        if previous and not previous.endswith(_SENTENCE_END) and _CONTINUES.match(line):
            joiner = "" if _HAN_END.search(previous) and not line.isascii() else " "
            out[-1] = previous + joiner + line
        else:
            out.append(line)
    return "\n".join(out)


def _parse_pdf(data: bytes, charset: str | None) -> ParsedDocument:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise DocumentParseFailed("The PDF is password-protected.")
    pages = [_reflow(page.extract_text() or "") for page in reader.pages]
    title = reader.metadata.title if reader.metadata else None
    return ParsedDocument(
        "\n\n".join(pages),
        title=title if isinstance(title, str) else None,
        metadata={"pages": len(pages)},
    )


# --- DOCX ---------------------------------------------------------------------------------

_DOCX_HEADING = re.compile(r"(?:heading|标题)\s*([1-9])", re.I)


def _parse_docx(data: bytes, charset: str | None) -> ParsedDocument:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    blocks: list[str] = []
    title = document.core_properties.title or None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = "\n".join(_docx_rows(item))
            if rows:
                blocks.append(rows)
            continue
        text = _SPACE.sub(" ", item.text).strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        heading = _DOCX_HEADING.fullmatch(style.strip())
        if style == "Title":
            title = title or text
            blocks.append("# " + text)
        elif heading:
            blocks.append("#" * min(int(heading.group(1)), 6) + " " + text)
        elif style.startswith("List"):
            blocks.append("- " + text)
        else:
            blocks.append(text)
    return ParsedDocument("\n\n".join(blocks), title=title)


def _docx_rows(table: Any) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            # A merged cell appears once per grid column it spans.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(_SPACE.sub(" ", cell.text.replace("\n", " ")).strip())
        if any(cells):
            yield " | ".join(cells)


# --- Spreadsheets and CSV ---------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return _SPACE.sub(" ", str(value).replace("\n", " ")).strip()


def _row_line(values: Any) -> str | None:
    cells = [_cell_text(v) for v in values]
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells) if any(cells) else None


def _parse_xlsx(data: bytes, charset: str | None) -> ParsedDocument:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        blocks: list[str] = []
        for sheet in workbook.worksheets:
            rows = [line for r in sheet.iter_rows(values_only=True) if (line := _row_line(r))]
            if rows:
                blocks.append(f"# {sheet.title}\n" + "\n".join(rows))
        sheets = len(workbook.worksheets)
    finally:
        workbook.close()
    return ParsedDocument("\n\n".join(blocks), metadata={"sheets": sheets})


def _parse_csv(data: bytes, charset: str | None) -> ParsedDocument:
    text = decode_text(data, charset)
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        pass
    lines = [line for r in csv.reader(io.StringIO(text), dialect) if (line := _row_line(r))]
    return ParsedDocument("\n".join(lines), metadata={"rows": len(lines)})


# --- JSON ---------------------------------------------------------------------------------


def _flatten(value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", out)
    else:
        if isinstance(value, str):
            text = _SPACE.sub(" ", value.replace("\r", " ").replace("\n", " ")).strip()
        else:
            text = json.dumps(value, ensure_ascii=False)
        out.append(f"{path}: {text}" if path else text)


def _parse_json(data: bytes, charset: str | None) -> ParsedDocument:
    value = json.loads(decode_text(data, charset))
    # One paragraph per top-level entry, so records stay together when chunked.
    if isinstance(value, dict) and value:
        entries: list[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list) and value:
        entries = [(f"[{i}]", v) for i, v in enumerate(value)]
    else:
        entries = [("", value)]
    blocks = []
    for path, item in entries:
        lines: list[str] = []
        _flatten(item, path, lines)
        blocks.append("\n".join(lines))
    return ParsedDocument("\n\n".join(blocks))


_PARSERS: dict[str, Callable[[bytes, str | None], ParsedDocument]] = {
    "text": _parse_text,
    "markdown": _parse_markdown,
    "html": _parse_html,
    "pdf": _parse_pdf,
    "docx": _parse_docx,
    "csv": _parse_csv,
    "xlsx": _parse_xlsx,
    "json": _parse_json,
}
