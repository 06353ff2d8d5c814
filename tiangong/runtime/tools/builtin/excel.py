"""Builtin tools: excel. Workbooks live in the caller's workspace, like every file tool."""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import BaseModel, Field, field_validator

from tiangong.runtime.tools.base import Tool, ToolError, ToolInputError
from tiangong.runtime.tools.builtin.files import make_parents, relative_name, workspace_path
from tiangong.runtime.tools.context import ToolContext
from tiangong.runtime.tools.registry import builtin_tool

MAX_WORKBOOK_BYTES = 20 * 1024 * 1024
MAX_WRITE_ROWS = 100_000
MAX_WRITE_CELLS = 1_000_000
MAX_COLUMNS = 1000
# Excel's own limits.
MAX_CELL_CHARS = 32_767
MAX_SHEET_NAME = 31
_BAD_SHEET_CHARS = re.compile(r"[\\*?:/\[\]]")

XlsxPath = Annotated[
    str,
    Field(
        min_length=6,
        max_length=1024,
        pattern=r"(?i)\.xlsx$",
        description="Path of an .xlsx file, relative to the workspace root.",
    ),
]


def _plain(value: Any) -> Any:
    """A cell value as JSON data."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _trimmed(row: Sequence[Any]) -> list[Any]:
    values = [_plain(v) for v in row]
    while values and values[-1] in (None, ""):
        values.pop()
    return values


def _column_names(header: list[Any], width: int) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for index in range(width):
        raw = header[index] if index < len(header) else None
        name = str(raw).strip() if raw not in (None, "") else f"column_{index + 1}"
        count = seen.get(name, 0) + 1
        seen[name] = count
        names.append(name if count == 1 else f"{name}_{count}")
    return names


# --- excel_read -----------------------------------------------------------------------------


class ExcelReadInput(BaseModel):
    path: XlsxPath
    sheet: str | None = Field(
        default=None, max_length=100, description="Sheet to read; the first sheet if omitted."
    )
    header: bool = Field(
        default=True,
        description="Treat the first non-empty row as column names and return rows as objects.",
    )
    max_rows: int = Field(default=1000, ge=1, le=10_000, description="Most data rows returned.")


class ExcelReadOutput(BaseModel):
    path: str
    sheets: list[str] = Field(description="All sheet names in the workbook, in order.")
    sheet: str = Field(description="The sheet that was read.")
    columns: list[str] | None = Field(description="Column names when header is true.")
    rows: list[list[Any]] | list[dict[str, Any]] = Field(
        description="Data rows: objects keyed by column name with header=true, else lists. "
        "Empty rows are skipped; dates are ISO strings; formulas give their cached values."
    )
    truncated: bool = Field(description="True when the sheet has more than max_rows data rows.")


def _non_empty_rows(rows: Iterable[Sequence[Any]]) -> Iterable[list[Any]]:
    for row in rows:
        values = _trimmed(row[:MAX_COLUMNS])
        if values:
            yield values


def _read(target: Path, shown: str, args: ExcelReadInput) -> ExcelReadOutput:
    if not target.is_file():
        raise ToolError(f"'{shown}' does not exist or is not a file.")
    size = target.stat().st_size
    if size > MAX_WORKBOOK_BYTES:
        raise ToolError(f"'{shown}' is {size} bytes; the limit is {MAX_WORKBOOK_BYTES} bytes.")
    try:
        workbook = openpyxl.load_workbook(target, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ToolError(f"'{shown}' is not a readable .xlsx workbook: {exc}") from exc
    try:
        names = [str(name) for name in workbook.sheetnames]
        if args.sheet is not None and args.sheet not in names:
            raise ToolError(f"'{shown}' has no sheet '{args.sheet}'; its sheets are {names}.")
        name = args.sheet or names[0]
        worksheet = workbook[name]
        if not hasattr(worksheet, "iter_rows"):
            raise ToolError(f"Sheet '{name}' of '{shown}' is a chart, not a table.")
        # Recorded dimensions are often wrong in files written by other tools; read what is there.
        worksheet.reset_dimensions()
        rows = _non_empty_rows(worksheet.iter_rows(values_only=True))
        header_row = next(iter(rows), []) if args.header else None
        data: list[list[Any]] = []
        truncated = False
        for values in rows:
            if len(data) == args.max_rows:
                truncated = True
                break
            data.append(values)
    finally:
        workbook.close()
    width = max([len(header_row or [])] + [len(row) for row in data])
    padded = [row + [None] * (width - len(row)) for row in data]
    if header_row is None:
        return ExcelReadOutput(
            path=shown, sheets=names, sheet=name, columns=None, rows=padded, truncated=truncated
        )
    columns = _column_names(header_row, width)
    records = [dict(zip(columns, row, strict=True)) for row in padded]
    return ExcelReadOutput(
        path=shown, sheets=names, sheet=name, columns=columns, rows=records, truncated=truncated
    )


@builtin_tool
class ExcelRead(Tool):
    name = "excel_read"
    description = (
        "Read one sheet of an .xlsx workbook in the workspace. By default the first sheet is "
        "read and its first row is used as column names, so rows come back as objects; set "
        "header=false to get rows as lists. Also returns the names of all sheets. Formula cells "
        "give their last saved values; dates are ISO strings."
    )
    category = "data"
    Input = ExcelReadInput
    Output = ExcelReadOutput

    async def run(self, args: ExcelReadInput, ctx: ToolContext) -> ExcelReadOutput:
        root, target = workspace_path(ctx, args.path)
        return await asyncio.to_thread(_read, target, relative_name(root, target), args)


# --- excel_write ----------------------------------------------------------------------------

Row = Annotated[list[Any], Field(max_length=MAX_COLUMNS)]
Record = Annotated[dict[str, Any], Field(max_length=MAX_COLUMNS)]


class ExcelWriteInput(BaseModel):
    path: XlsxPath
    rows: list[Row] | list[Record] = Field(
        max_length=MAX_WRITE_ROWS,
        description="Data rows: lists of cell values, or objects keyed by column name.",
    )
    headers: list[str] | None = Field(
        default=None,
        max_length=MAX_COLUMNS,
        description="Header row, written in bold. For object rows it also picks and orders the "
        "columns (default: every key, in first-seen order).",
    )
    sheet: str = Field(default="Sheet1", min_length=1, max_length=MAX_SHEET_NAME)
    overwrite: bool = Field(
        default=True, description="Replace the file if it exists; if false, fail instead."
    )
    formulas: bool = Field(
        default=False,
        description="Write strings starting with '=' as formulas; otherwise they stay text.",
    )

    @field_validator("sheet")
    @classmethod
    def _sheet_name(cls, value: str) -> str:
        if _BAD_SHEET_CHARS.search(value):
            raise ValueError("a sheet name cannot contain \\ / * ? : [ ]")
        return value


class ExcelWriteOutput(BaseModel):
    path: str
    sheet: str
    rows_written: int = Field(description="Data rows written, not counting the header row.")
    columns: int
    size_bytes: int


def _cell_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_CELL_CHARS]
    return value


def _table(args: ExcelWriteInput) -> tuple[list[str] | None, list[list[Any]]]:
    records = [row for row in args.rows if isinstance(row, dict)]
    if not records:
        return args.headers, [row for row in args.rows if isinstance(row, list)]
    headers = list(args.headers or [])
    if args.headers is None:
        known: set[str] = set()
        for record in records:
            for key in record:
                if key not in known:
                    known.add(key)
                    headers.append(key)
    if len(headers) > MAX_COLUMNS:
        raise ToolInputError(f"The rows have {len(headers)} columns; the limit is {MAX_COLUMNS}.")
    return headers, [[record.get(key) for key in headers] for record in records]


def _write(root: Path, target: Path, shown: str, args: ExcelWriteInput) -> ExcelWriteOutput:
    headers, table = _table(args)
    width = max([len(headers or [])] + [len(row) for row in table])
    if width * (len(table) + 1) > MAX_WRITE_CELLS:
        raise ToolInputError(f"Too many cells; at most {MAX_WRITE_CELLS} can be written.")
    if target.exists() and not args.overwrite:
        raise ToolError(f"'{shown}' already exists and overwrite is false.")
    if target.is_dir():
        raise ToolError(f"'{shown}' is a folder.")
    make_parents(root, target, shown)
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = args.sheet
    bold = Font(bold=True)
    line = 1
    if headers:
        for column, title in enumerate(headers, start=1):
            worksheet.cell(row=1, column=column, value=_cell_value(title)).font = bold
        worksheet.freeze_panes = "A2"
        line = 2
    for values in table:
        for column, value in enumerate(values, start=1):
            cell = worksheet.cell(row=line, column=column, value=_cell_value(value))
            if cell.data_type == "f" and not args.formulas:
                cell.data_type = "s"
        line += 1
    # Written beside the target and renamed, so a failed save never leaves half a workbook.
    fd, temp = tempfile.mkstemp(suffix=".xlsx.tmp", dir=target.parent)
    os.close(fd)
    try:
        workbook.save(temp)
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return ExcelWriteOutput(
        path=shown,
        sheet=args.sheet,
        rows_written=len(table),
        columns=width,
        size_bytes=target.stat().st_size,
    )


@builtin_tool
class ExcelWrite(Tool):
    name = "excel_write"
    description = (
        "Write rows to a new .xlsx workbook in the workspace (one sheet). Rows are lists of "
        "cell values or objects keyed by column name; a header row (from `headers`, or the "
        "object keys) is written in bold and frozen. Nested lists/objects are stored as JSON "
        "text. Strings starting with '=' stay text unless formulas=true."
    )
    category = "data"
    Input = ExcelWriteInput
    Output = ExcelWriteOutput

    async def run(self, args: ExcelWriteInput, ctx: ToolContext) -> ExcelWriteOutput:
        root, target = workspace_path(ctx, args.path)
        return await asyncio.to_thread(_write, root, target, relative_name(root, target), args)
