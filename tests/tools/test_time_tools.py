"""Date and time tools: current time, time zones, differences, arithmetic and cron."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

import tiangong.runtime.tools.builtin  # noqa: F401 - registers the builtin tools
from tiangong.runtime.tools import BUILTIN, ToolContext, ToolError, ToolInputError
from tiangong.runtime.tools.executor import run_tool


async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    tool = BUILTIN.get(name)
    assert tool is not None, f"{name} is not registered"
    return await run_tool(tool, args, ToolContext())


def test_time_tools_are_registered() -> None:
    for name in ("current_time", "timezone_convert", "date_diff", "date_add", "cron_next"):
        tool = BUILTIN.get(name)
        assert tool is not None and tool.category == "datetime"


# --- current_time -----------------------------------------------------------------------------


async def test_current_time_in_shanghai() -> None:
    out = await call("current_time", {"timezone": "Asia/Shanghai"})
    assert out["timezone"] == "Asia/Shanghai" and out["utc_offset"] == "+08:00"
    assert abs(out["unix"] - time.time()) < 5
    moment = datetime.fromisoformat(out["iso"])
    assert out["weekday"] == moment.strftime("%A")
    assert out["weekday_zh"] == "星期" + "一二三四五六日"[moment.weekday()]


async def test_current_time_defaults_to_utc_and_accepts_offsets() -> None:
    assert (await call("current_time", {}))["utc_offset"] == "+00:00"
    out = await call("current_time", {"timezone": "UTC-05:30"})
    assert out["utc_offset"] == "-05:30"


@pytest.mark.parametrize("zone", ["Mars/Base", "../../etc/passwd", "+25:00"])
async def test_current_time_unknown_zone(zone: str) -> None:
    with pytest.raises(ToolError, match="time zone|out of range"):
        await call("current_time", {"timezone": zone})


# --- timezone_convert -------------------------------------------------------------------------


async def test_timezone_convert_handles_daylight_saving() -> None:
    winter = await call(
        "timezone_convert",
        {
            "datetime": "2024-03-10 01:30",
            "from_timezone": "America/New_York",
            "to_timezone": "Asia/Shanghai",
        },
    )
    assert winter["source"]["utc_offset"] == "-05:00"
    assert winter["result"]["iso"] == "2024-03-10T14:30:00+08:00"
    summer = await call(
        "timezone_convert",
        {"datetime": "2024-03-10 03:30", "from_timezone": "America/New_York", "to_timezone": "UTC"},
    )
    assert summer["result"]["iso"] == "2024-03-10T07:30:00+00:00"


async def test_timezone_convert_chinese_date_and_explicit_offset() -> None:
    out = await call(
        "timezone_convert",
        {
            "datetime": "2024年5月1日 09:00",
            "from_timezone": "Asia/Shanghai",
            "to_timezone": "Europe/London",
        },
    )
    assert out["result"]["iso"] == "2024-05-01T02:00:00+01:00"
    out = await call(
        "timezone_convert", {"datetime": "2024-05-01T09:00:00Z", "to_timezone": "Asia/Tokyo"}
    )
    assert out["result"]["time"] == "18:00:00"


async def test_timezone_convert_unreadable_datetime() -> None:
    with pytest.raises(ToolError, match="Cannot read 'yesterday'"):
        await call("timezone_convert", {"datetime": "yesterday", "to_timezone": "UTC"})
    with pytest.raises(ToolInputError, match="to_timezone"):
        await call("timezone_convert", {"datetime": "2024-01-01"})


# --- date_diff --------------------------------------------------------------------------------


async def test_date_diff_totals_breakdown_and_business_days() -> None:
    out = await call(
        "date_diff",
        {
            "start": "2024-01-01",
            "end": "2024-01-15T12:30:00",
            "holidays": ["2024-01-01", "2024-01-06"],
        },
    )
    assert out["total_hours"] == 348.5
    assert (out["days"], out["hours"], out["minutes"], out["seconds"]) == (14, 12, 30, 0)
    assert out["calendar_days"] == 14
    # Jan 1-14 has ten weekdays; Jan 1 is a holiday, Jan 6 is a Saturday anyway.
    assert out["business_days"] == 9


async def test_date_diff_is_negative_when_end_is_earlier() -> None:
    out = await call("date_diff", {"start": "2024-01-15", "end": "2024-01-01"})
    assert out["total_days"] == -14 and out["days"] == -14
    assert out["business_days"] == -10


async def test_date_diff_across_zones() -> None:
    out = await call(
        "date_diff", {"start": "2024-06-01T08:00:00+08:00", "end": "2024-06-01T00:00:00Z"}
    )
    assert out["total_seconds"] == 0


async def test_date_diff_out_of_range_in_zone() -> None:
    with pytest.raises(ToolError, match="out of range"):
        await call("date_diff", {"start": "0001-01-01T00:00:00+14:00", "end": "2024-01-01"})


async def test_date_diff_bad_input() -> None:
    with pytest.raises(ToolInputError, match="start"):
        await call("date_diff", {"end": "2024-01-01"})
    with pytest.raises(ToolInputError, match="holidays"):
        await call("date_diff", {"start": "2024-01-01", "end": "2024-02-01", "holidays": ["soon"]})


# --- date_add ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2024-01-31", 1, "2024-02-29"),
        ("2023-01-31", 1, "2023-02-28"),
        ("2024-03-31", -1, "2024-02-29"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2024-05-15", 20, "2026-01-15"),
    ],
)
async def test_date_add_months_clamp_to_month_end(start: str, months: int, expected: str) -> None:
    out = await call("date_add", {"datetime": start, "months": months})
    assert out["date"] == expected


async def test_date_add_days_keep_wall_time_hours_are_elapsed() -> None:
    base = {"datetime": "2024-03-09T12:00", "timezone": "America/New_York"}
    by_day = await call("date_add", {**base, "days": 1})
    assert by_day["iso"] == "2024-03-10T12:00:00-04:00"
    by_hours = await call("date_add", {**base, "hours": 24})
    assert by_hours["iso"] == "2024-03-10T13:00:00-04:00"


async def test_date_add_out_of_range() -> None:
    with pytest.raises(ToolError, match="outside years"):
        await call("date_add", {"datetime": "9999-12-01", "months": 1})
    with pytest.raises(ToolInputError, match="years"):
        await call("date_add", {"datetime": "2024-01-01", "years": 1_000_000})


# --- cron_next --------------------------------------------------------------------------------


async def test_cron_next_weekdays_in_time_zone() -> None:
    out = await call(
        "cron_next",
        {
            "expression": "0 9 * * MON-FRI",
            "timezone": "Asia/Shanghai",
            "start": "2024-05-03T10:00",
            "count": 3,
        },
    )
    assert out["times"] == [
        "2024-05-06T09:00:00+08:00",
        "2024-05-07T09:00:00+08:00",
        "2024-05-08T09:00:00+08:00",
    ]


async def test_cron_next_daily_alias() -> None:
    out = await call(
        "cron_next", {"expression": "@daily", "start": "2024-12-31T23:00:00Z", "count": 1}
    )
    assert out["times"] == ["2025-01-01T00:00:00+00:00"]


@pytest.mark.parametrize("expression", ["61 * * * *", "* * * *", "*/0 * * * *", "0 0 30 2 *"])
async def test_cron_next_invalid_expression(expression: str) -> None:
    with pytest.raises(ToolError, match="cron expression"):
        await call("cron_next", {"expression": expression, "start": "2024-01-01"})


async def test_cron_next_count_is_bounded() -> None:
    with pytest.raises(ToolInputError, match="count"):
        await call("cron_next", {"expression": "* * * * *", "count": 101})
