"""Excel tools: round trips through real .xlsx files in a workspace."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool


async def call(name: str, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, name
    return await run_tool(tool, args, ctx)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


@pytest.fixture
def ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace)


async def test_write_dict_rows_then_read_them_back(ctx: ToolContext, workspace: Path) -> None:
    rows = [
        {"name": "Ann", "score": 91.5, "tags": ["a", "b"]},
        {"name": "Bo", "score": 78, "city": "Oslo"},
    ]
    written = await call(
        "excel_write", {"path": "out/scores.xlsx", "rows": rows, "sheet": "Scores"}, ctx
    )
    assert written["path"] == "out/scores.xlsx"
    assert written["rows_written"] == 2
    assert written["columns"] == 4
    assert written["size_bytes"] > 0

    book = openpyxl.load_workbook(workspace / "out/scores.xlsx")
    sheet = book["Scores"]
    assert [c.value for c in sheet[1]] == ["name", "score", "tags", "city"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet["C2"].value == '["a", "b"]'
    assert sheet.freeze_panes == "A2"

    read = await call("excel_read", {"path": "out/scores.xlsx"}, ctx)
    assert read["sheets"] == ["Scores"]
    assert read["sheet"] == "Scores"
    assert read["columns"] == ["name", "score", "tags", "city"]
    assert read["rows"] == [
        {"name": "Ann", "score": 91.5, "tags": '["a", "b"]', "city": None},
        {"name": "Bo", "score": 78, "tags": None, "city": "Oslo"},
    ]
    assert read["truncated"] is False


async def test_write_list_rows_keeps_formula_text_unless_asked(
    ctx: ToolContext, workspace: Path
) -> None:
    rows = [[1, 2, "=A2+B2"], [3, 4, '=HYPERLINK("http://evil")']]
    await call("excel_write", {"path": "t.xlsx", "rows": rows, "headers": ["a", "b", "c"]}, ctx)
    sheet = openpyxl.load_workbook(workspace / "t.xlsx").active
    assert sheet["C2"].data_type == "s"
    assert sheet["C2"].value == "=A2+B2"

    await call("excel_write", {"path": "f.xlsx", "rows": rows, "formulas": True}, ctx)
    sheet = openpyxl.load_workbook(workspace / "f.xlsx").active
    assert sheet["C1"].data_type == "f"


async def test_read_handles_headers_off_sheets_dates_and_limits(
    ctx: ToolContext, workspace: Path
) -> None:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "First"
    first.append(["only", "here"])
    second = book.create_sheet("Data")
    second.append(["when", "n", None, "n"])
    second.append([dt.datetime(2024, 5, 1, 12, 30), 1])
    second.append([None, None])
    second.append([dt.date(2024, 5, 2), 2, "x"])
    second.append([None, 3])
    book.save(workspace / "book.xlsx")

    read = await call("excel_read", {"path": "book.xlsx", "sheet": "Data", "max_rows": 2}, ctx)
    assert read["sheets"] == ["First", "Data"]
    assert read["columns"] == ["when", "n", "column_3", "n_2"]
    assert read["rows"] == [
        {"when": "2024-05-01T12:30:00", "n": 1, "column_3": None, "n_2": None},
        {"when": "2024-05-02T00:00:00", "n": 2, "column_3": "x", "n_2": None},
    ]
    assert read["truncated"] is True

    raw = await call("excel_read", {"path": "book.xlsx", "header": False}, ctx)
    assert raw["sheet"] == "First"
    assert raw["columns"] is None
    assert raw["rows"] == [["only", "here"]]


async def test_read_rejects_missing_sheets_and_non_workbooks(
    ctx: ToolContext, workspace: Path
) -> None:
    openpyxl.Workbook().save(workspace / "a.xlsx")
    (workspace / "fake.xlsx").write_text("not a zip")
    with pytest.raises(ToolError, match="no sheet 'Nope'"):
        await call("excel_read", {"path": "a.xlsx", "sheet": "Nope"}, ctx)
    with pytest.raises(ToolError, match="not a readable .xlsx"):
        await call("excel_read", {"path": "fake.xlsx"}, ctx)
    with pytest.raises(ToolError, match="does not exist"):
        await call("excel_read", {"path": "missing.xlsx"}, ctx)
    with pytest.raises(ToolInputError):
        await call("excel_read", {"path": "data.csv"}, ctx)


@pytest.mark.parametrize("path", ["../x.xlsx", "/etc/x.xlsx", "etc/x.xlsx"])
async def test_excel_paths_cannot_leave_the_workspace(
    ctx: ToolContext, workspace: Path, path: str
) -> None:
    os.symlink("/etc", workspace / "etc")
    with pytest.raises(ToolError):
        await call("excel_write", {"path": path, "rows": [[1]]}, ctx)
    with pytest.raises(ToolError):
        await call("excel_read", {"path": path}, ctx)


async def test_write_rejects_bad_input(ctx: ToolContext, workspace: Path) -> None:
    with pytest.raises(ToolInputError):
        await call("excel_write", {"path": "a.xlsx", "rows": [[1]], "sheet": "bad/name"}, ctx)
    with pytest.raises(ToolInputError):
        await call("excel_write", {"path": "a.xlsx", "rows": [[1], {"a": 1}]}, ctx)
    openpyxl.Workbook().save(workspace / "keep.xlsx")
    with pytest.raises(ToolError, match="already exists"):
        await call("excel_write", {"path": "keep.xlsx", "rows": [[1]], "overwrite": False}, ctx)
    assert sorted(os.listdir(workspace)) == ["keep.xlsx"]
