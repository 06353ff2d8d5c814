"""Builtin tools: tables. CSV in and out, Markdown tables, and SQL over rows in memory."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tiangong.runtime.tools.base import Tool, ToolError
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool

MAX_CSV_TEXT = 2_000_000
MAX_ROWS = 10_000
MAX_SQL_ROWS = 50_000
MAX_SQL_CELLS = 1_000_000
MAX_SQL_TABLES = 10
SQL_TIMEOUT_S = 5.0
# Longest string or blob a query may build, so `randomblob(1e9)` fails instead of allocating.
SQL_MAX_VALUE = 10_000_000
# csv.Sniffer's regexes are cubic on hostile input (a 16 KB sample can take seconds) and
# hold the GIL, so it only sees the start of the text.
SNIFF_CHARS = 2048
_DELIMITERS = ",;\t|"

Row = dict[str, Any]
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def unique_names(names: Iterable[str]) -> list[str]:
    """Blank names become column_N; repeats get _2, _3..."""
    seen: set[str] = set()
    result: list[str] = []
    for index, raw in enumerate(names, start=1):
        base = raw.strip() or f"column_{index}"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        result.append(name)
    return result


def _columns(rows: Sequence[Row], columns: list[str] | None) -> list[str]:
    if columns:
        return columns
    return list(dict.fromkeys(key for row in rows for key in row))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- csv_parse --------------------------------------------------------------------------------


class CsvParseInput(_Input):
    text: str = Field(max_length=MAX_CSV_TEXT, description="CSV text, up to 2,000,000 characters.")
    delimiter: str | None = Field(
        default=None,
        min_length=1,
        max_length=1,
        description="Field separator; detected from the text when omitted (, ; tab |).",
    )
    has_header: bool = Field(
        default=True, description="The first row holds column names; else column_1, column_2..."
    )
    infer_types: bool = Field(
        default=False, description="Turn numeric cells into numbers and empty cells into null."
    )
    max_rows: int = Field(default=1000, ge=1, le=MAX_ROWS, description="Rows to return.")


class CsvParseOutput(BaseModel):
    header: list[str]
    rows: list[Row]
    row_count: int = Field(description="Rows returned.")
    total_rows: int = Field(description="Data rows in the text.")
    truncated: bool
    delimiter: str


def _sniff_delimiter(text: str) -> str:
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first_line = sample.split("\n", 1)[0]
        counts = {d: first_line.count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _infer(value: str) -> Any:
    if value == "":
        return None
    if _NUMBER.match(value):
        if "." not in value and "e" not in value.lower() and len(value) < 19:
            return int(value)
        number = float(value)
        return number if math.isfinite(number) else value
    return value


@builtin_tool
class CsvParse(Tool):
    name = "csv_parse"
    description = (
        "Parse CSV text (up to 2,000,000 characters) into a header and rows (objects keyed by "
        "column). The delimiter is detected unless given; optionally infers numbers. Returns "
        "at most max_rows (≤10,000) rows with the total count."
    )
    category = "data"
    Input = CsvParseInput
    Output = CsvParseOutput

    async def run(self, args: CsvParseInput, ctx: ToolContext) -> CsvParseOutput:
        delimiter = args.delimiter or _sniff_delimiter(args.text)
        reader = csv.reader(io.StringIO(args.text, newline=""), delimiter=delimiter)
        header: list[str] = []
        rows: list[Row] = []
        total = 0
        try:
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                if args.has_header and not header:
                    header = unique_names(record)
                    continue
                total += 1
                if len(rows) >= args.max_rows:
                    continue
                if len(record) > len(header):
                    header = unique_names([*header, *[""] * (len(record) - len(header))])
                values = [_infer(v) if args.infer_types else v for v in record]
                values += [None] * (len(header) - len(values))
                rows.append(dict(zip(header, values, strict=True)))
        except csv.Error as exc:
            raise ToolError(f"Invalid CSV at line {reader.line_num}: {exc}") from exc
        return CsvParseOutput(
            header=header,
            rows=rows,
            row_count=len(rows),
            total_rows=total,
            truncated=total > len(rows),
            delimiter=delimiter,
        )


# --- csv_build --------------------------------------------------------------------------------


class CsvBuildInput(_Input):
    rows: list[Row] = Field(max_length=MAX_ROWS, description="Rows as objects.")
    columns: list[str] | None = Field(
        default=None,
        max_length=500,
        description="Column order; by default every key in first-seen order.",
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    include_header: bool = True


class CsvBuildOutput(BaseModel):
    csv: str
    row_count: int
    columns: list[str]


@builtin_tool
class CsvBuild(Tool):
    name = "csv_build"
    description = (
        "Build CSV text from rows (up to 10,000 objects). Columns default to every key in "
        "first-seen order; missing cells are empty, nested values are written as JSON and "
        "fields are quoted where needed."
    )
    category = "data"
    Input = CsvBuildInput
    Output = CsvBuildOutput

    async def run(self, args: CsvBuildInput, ctx: ToolContext) -> CsvBuildOutput:
        columns = _columns(args.rows, args.columns)
        if not columns:
            raise ToolError("No columns: give rows with keys, or `columns`.")
        if args.delimiter in '\r\n"':
            raise ToolError("The delimiter cannot be a quote or a line break.")
        out = io.StringIO()
        writer = csv.writer(out, delimiter=args.delimiter, lineterminator="\n")
        if args.include_header:
            writer.writerow(columns)
        for row in args.rows:
            writer.writerow([_cell_text(row.get(c)) for c in columns])
        return CsvBuildOutput(csv=out.getvalue(), row_count=len(args.rows), columns=columns)


# --- table_to_markdown ------------------------------------------------------------------------


class TableToMarkdownInput(_Input):
    rows: list[Row] = Field(max_length=MAX_ROWS, description="Rows as objects.")
    columns: list[str] | None = Field(
        default=None, max_length=100, description="Column order; by default every key."
    )
    align: Literal["none", "left", "center", "right"] = Field(
        default="none", description="Column alignment for every column."
    )


class TableToMarkdownOutput(BaseModel):
    markdown: str


_ALIGN_RULE = {"none": "---", "left": ":---", "center": ":---:", "right": "---:"}


def _md_cell(value: Any) -> str:
    text = _cell_text(value)
    return (
        text.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")
    )


@builtin_tool
class TableToMarkdown(Tool):
    name = "table_to_markdown"
    description = (
        "Render rows (up to 10,000 objects) as a GitHub-flavoured Markdown table. Columns "
        "default to every key in first-seen order; | is escaped and line breaks become <br>."
    )
    category = "data"
    Input = TableToMarkdownInput
    Output = TableToMarkdownOutput

    async def run(self, args: TableToMarkdownInput, ctx: ToolContext) -> TableToMarkdownOutput:
        columns = _columns(args.rows, args.columns)
        if not columns:
            raise ToolError("No columns: give rows with keys, or `columns`.")
        lines = [
            "| " + " | ".join(_md_cell(c) for c in columns) + " |",
            "| " + " | ".join(_ALIGN_RULE[args.align] for _ in columns) + " |",
        ]
        lines.extend(
            "| " + " | ".join(_md_cell(row.get(c)) for c in columns) + " |" for row in args.rows
        )
        return TableToMarkdownOutput(markdown="\n".join(lines))


# --- sql_query_table --------------------------------------------------------------------------


class SqlQueryInput(_Input):
    query: str = Field(
        min_length=1,
        max_length=10_000,
        description="One SELECT (or WITH ... SELECT) statement in SQLite syntax, e.g. "
        "SELECT city, AVG(price) FROM t GROUP BY city ORDER BY 2 DESC.",
    )
    rows: list[Row] | None = Field(
        default=None, max_length=MAX_SQL_ROWS, description="Rows loaded as table `t`."
    )
    tables: dict[str, list[Row]] | None = Field(
        default=None, max_length=MAX_SQL_TABLES, description="More tables: name -> rows."
    )
    max_rows: int = Field(default=1000, ge=1, le=MAX_ROWS, description="Result rows to return.")

    @model_validator(mode="after")
    def _some_table(self) -> SqlQueryInput:
        if self.rows is None and not self.tables:
            raise ValueError("give rows (table t) or tables")
        return self


class SqlQueryOutput(BaseModel):
    columns: list[str]
    rows: list[Row]
    row_count: int
    truncated: bool = Field(description="True when the query returned more than max_rows.")


_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_LEADING_COMMENTS = re.compile(r"(?:\s|--[^\n]*|/\*.*?\*/)*", re.DOTALL)
_READ_STATEMENT = re.compile(r"(?:SELECT|WITH)\b", re.IGNORECASE)


def _skip_comments(query: str) -> str:
    match = _LEADING_COMMENTS.match(query)
    return query[match.end() :] if match else query


def _authorize(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _column_type(values: Iterable[Any]) -> str:
    kinds = {type(v) for v in values if v is not None}
    if kinds and kinds <= {int, bool}:
        return "INTEGER"
    if kinds and kinds <= {int, bool, float}:
        return "REAL"
    return "TEXT" if kinds else ""


def _sql_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    return value


def _load(conn: sqlite3.Connection, name: str, rows: list[Row]) -> None:
    columns = _columns(rows, None) or ["_empty"]
    decl = ", ".join(
        f"{_quote(c)} {_column_type(row.get(c) for row in rows)}".rstrip() for c in columns
    )
    conn.execute(f"CREATE TABLE {_quote(name)} ({decl})")
    marks = ", ".join("?" for _ in columns)
    conn.executemany(
        f"INSERT INTO {_quote(name)} VALUES ({marks})",  # noqa: S608 - names are quoted
        ([_sql_value(row.get(c)) for c in columns] for row in rows),
    )


def _result_value(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def _run_query(tables: dict[str, list[Row]], query: str, max_rows: int) -> SqlQueryOutput:
    conn = sqlite3.connect(":memory:")
    try:
        try:
            for name, rows in tables.items():
                _load(conn, name, rows)
        except (sqlite3.Error, OverflowError) as exc:
            raise ToolError(f"Cannot load the rows: {exc}") from exc
        conn.commit()
        conn.execute("PRAGMA query_only=ON")
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQL_MAX_VALUE)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(_authorize)
        deadline = time.monotonic() + SQL_TIMEOUT_S
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cursor = conn.execute(query)
            fetched = cursor.fetchmany(max_rows + 1)
        except sqlite3.OperationalError as exc:
            if str(exc) == "interrupted":
                raise ToolError(f"The query ran longer than {SQL_TIMEOUT_S:g} s.") from exc
            raise ToolError(f"SQL error: {exc}") from exc
        except (sqlite3.Warning, sqlite3.ProgrammingError) as exc:
            raise ToolError(f"SQL error (one statement only): {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise ToolError(f"SQL error: {exc}") from exc
        except OverflowError as exc:
            raise ToolError(f"SQL value out of range: {exc}") from exc
        columns = unique_names(d[0] for d in cursor.description or [])
        kept = fetched[:max_rows]
        return SqlQueryOutput(
            columns=columns,
            rows=[dict(zip(columns, (_result_value(v) for v in row), strict=True)) for row in kept],
            row_count=len(kept),
            truncated=len(fetched) > max_rows,
        )
    finally:
        conn.close()


@builtin_tool
class SqlQueryTable(Tool):
    name = "sql_query_table"
    description = (
        "Run one read-only SQLite SELECT over rows you give: `rows` become table t and "
        "`tables` add named tables (up to 50,000 rows each). Nested values are stored as "
        "JSON text (use json_extract). Queries are stopped after 5 s; at most max_rows rows "
        "are returned."
    )
    category = "data"
    Input = SqlQueryInput
    Output = SqlQueryOutput

    async def run(self, args: SqlQueryInput, ctx: ToolContext) -> SqlQueryOutput:
        tables = dict(args.tables or {})
        if args.rows is not None:
            if "t" in tables:
                raise ToolError("Table t comes from `rows`; do not also give it in `tables`.")
            tables["t"] = args.rows
        for name, rows in tables.items():
            if not _TABLE_NAME.match(name):
                raise ToolError(
                    f"Table name {name!r} must be a letter or _ then letters, digits, _"
                )
            if len(rows) > MAX_SQL_ROWS:
                raise ToolError(f"Table {name} has more than {MAX_SQL_ROWS} rows.")
        cells = sum(len(row) for rows in tables.values() for row in rows)
        if cells > MAX_SQL_CELLS:
            raise ToolError(f"The tables hold {cells} cells; at most {MAX_SQL_CELLS}.")
        if not _READ_STATEMENT.match(_skip_comments(args.query)):
            raise ToolError("Only a single SELECT (or WITH ... SELECT) statement is allowed.")
        return await asyncio.to_thread(_run_query, tables, args.query, args.max_rows)
