"""Table tools: CSV parse/build, Markdown tables, read-only SQL over given rows."""

from __future__ import annotations

import time
from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool

ROWS = [
    {"city": "Beijing", "price": 10, "tags": ["a"]},
    {"city": "Shanghai", "price": 20.5},
    {"city": "Beijing", "price": 30, "ok": True},
]


async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, f"{name} is not registered"
    return await run_tool(tool, args, ToolContext())


def test_table_tools_are_registered() -> None:
    for name in ("csv_parse", "csv_build", "table_to_markdown", "sql_query_table"):
        tool = BUILTIN.get(name)
        assert tool is not None and tool.category == "data"


# --- csv_parse --------------------------------------------------------------------------------


async def test_csv_parse_detects_delimiter_and_fixes_header() -> None:
    text = "name;age;name\nLi;30;x\n\nWang;;y;extra\n"
    out = await call("csv_parse", {"text": text, "infer_types": True})
    assert out["delimiter"] == ";"
    assert out["header"] == ["name", "age", "name_2", "column_4"]
    assert out["rows"] == [
        {"name": "Li", "age": 30, "name_2": "x"},
        {"name": "Wang", "age": None, "name_2": "y", "column_4": "extra"},
    ]


async def test_csv_parse_quoted_fields_and_row_cap() -> None:
    text = 'a,b\n"x, y","line1\nline2"\n1,2\n3,4\n'
    out = await call("csv_parse", {"text": text, "max_rows": 2})
    assert out["rows"][0] == {"a": "x, y", "b": "line1\nline2"}
    assert (out["row_count"], out["total_rows"], out["truncated"]) == (2, 3, True)


async def test_csv_parse_without_header() -> None:
    out = await call("csv_parse", {"text": "1\t2\n3\t4", "has_header": False, "delimiter": "\t"})
    assert out["header"] == ["column_1", "column_2"]
    assert out["rows"][1] == {"column_1": "3", "column_2": "4"}


async def test_csv_parse_bad_delimiter() -> None:
    with pytest.raises(ToolInputError, match="delimiter"):
        await call("csv_parse", {"text": "a,b", "delimiter": ",,"})


async def test_csv_parse_oversized_field_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="Invalid CSV"):
        await call("csv_parse", {"text": 'a\n"' + "x" * 200_000 + '"\n'})


# --- csv_build --------------------------------------------------------------------------------


async def test_csv_build_quotes_and_serialises_nested_values() -> None:
    out = await call("csv_build", {"rows": ROWS})
    assert out["columns"] == ["city", "price", "tags", "ok"]
    assert out["csv"] == (
        'city,price,tags,ok\nBeijing,10,"[""a""]",\nShanghai,20.5,,\nBeijing,30,,true\n'
    )


async def test_csv_build_column_order_and_delimiter() -> None:
    out = await call(
        "csv_build",
        {
            "rows": [{"a": 1, "b": "x;y"}],
            "columns": ["b", "a"],
            "delimiter": ";",
            "include_header": False,
        },
    )
    assert out["csv"] == '"x;y";1\n'


async def test_csv_build_needs_columns() -> None:
    with pytest.raises(ToolError, match="No columns"):
        await call("csv_build", {"rows": []})
    with pytest.raises(ToolInputError, match="rows"):
        await call("csv_build", {"rows": ["not an object"]})


# --- table_to_markdown ------------------------------------------------------------------------


async def test_table_to_markdown_escapes_pipes_and_newlines() -> None:
    out = await call(
        "table_to_markdown",
        {"rows": [{"a": "x|y", "b": "l1\nl2"}, {"a": 1}], "align": "right"},
    )
    assert out["markdown"] == "| a | b |\n| ---: | ---: |\n| x\\|y | l1<br>l2 |\n| 1 |  |"


async def test_table_to_markdown_bad_alignment() -> None:
    with pytest.raises(ToolInputError, match="align"):
        await call("table_to_markdown", {"rows": [{"a": 1}], "align": "justify"})


# --- sql_query_table --------------------------------------------------------------------------


async def test_sql_query_groups_rows() -> None:
    out = await call(
        "sql_query_table",
        {
            "rows": ROWS,
            "query": "SELECT city, AVG(price) AS avg, COUNT(*) AS n "
            "FROM t GROUP BY city ORDER BY city",
        },
    )
    assert out["columns"] == ["city", "avg", "n"]
    assert out["rows"] == [
        {"city": "Beijing", "avg": 20.0, "n": 2},
        {"city": "Shanghai", "avg": 20.5, "n": 1},
    ]


async def test_sql_query_named_tables_json_and_comments() -> None:
    out = await call(
        "sql_query_table",
        {
            "tables": {
                "users": [{"id": 1, "n": "x"}],
                "orders": [{"uid": 1, "amt": 5}, {"uid": 1, "amt": 7}],
            },
            "query": "-- total per user\n"
            "WITH s AS (SELECT uid, SUM(amt) AS total FROM orders GROUP BY uid) "
            "SELECT n, total FROM users JOIN s ON s.uid = users.id",
        },
    )
    assert out["rows"] == [{"n": "x", "total": 12}]
    tags = await call(
        "sql_query_table",
        {"rows": ROWS, "query": "SELECT json_extract(tags, '$[0]') AS tag FROM t LIMIT 1"},
    )
    assert tags["rows"] == [{"tag": "a"}]


async def test_sql_query_caps_rows() -> None:
    rows = [{"i": i} for i in range(20)]
    out = await call("sql_query_table", {"rows": rows, "query": "SELECT i FROM t", "max_rows": 5})
    assert out["row_count"] == 5 and out["truncated"] is True


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM t",
        "DROP TABLE t",
        "PRAGMA query_only=OFF",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "SELECT 1; DELETE FROM t",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "SELECT load_extension('x')",
    ],
)
async def test_sql_query_refuses_anything_but_one_select(query: str) -> None:
    with pytest.raises(ToolError):
        await call("sql_query_table", {"rows": ROWS, "query": query})


async def test_sql_query_rows_survive_refused_writes() -> None:
    with pytest.raises(ToolError):
        await call("sql_query_table", {"rows": ROWS, "query": "SELECT 1; DELETE FROM t"})
    out = await call("sql_query_table", {"rows": ROWS, "query": "SELECT COUNT(*) AS n FROM t"})
    assert out["rows"] == [{"n": 3}]


async def test_sql_query_long_query_is_interrupted() -> None:
    query = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT COUNT(*) FROM r"
    started = time.monotonic()
    with pytest.raises(ToolError, match="longer than 5 s"):
        await call("sql_query_table", {"rows": ROWS, "query": query})
    assert time.monotonic() - started < 8


async def test_sql_query_huge_blob_is_refused() -> None:
    with pytest.raises(ToolError, match="too big"):
        await call("sql_query_table", {"rows": ROWS, "query": "SELECT randomblob(1000000000)"})


async def test_sql_query_errors_are_tool_errors() -> None:
    with pytest.raises(ToolError, match="no such column"):
        await call("sql_query_table", {"rows": ROWS, "query": "SELECT nope FROM t"})
    with pytest.raises(ToolError, match="Table name"):
        await call("sql_query_table", {"tables": {"bad name": [{"a": 1}]}, "query": "SELECT 1"})
    with pytest.raises(ToolInputError, match="rows"):
        await call("sql_query_table", {"query": "SELECT 1"})
